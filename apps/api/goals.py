"""Goals under /api/v1/: CRUD through the goal services (validated once, audited), where each
goal stands (`/goals/status`), its daily history, the snapshot command, and the goal-aware
sizing decisions, risk stance changes and drawdown breaches (read; a breach is cleared by a
command). Commands take an Idempotency-Key."""

from datetime import date

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.api import filters, selectors
from apps.api.commands import IDEMPOTENCY, ReasonSerializer, _reason
from apps.api.idempotency import idempotent
from apps.api.serializers import (
    DrawdownEventSerializer,
    GoalAdjustmentSerializer,
    GoalSerializer,
    GoalSnapshotSerializer,
    GoalStatusSerializer,
    GoalWriteSerializer,
    RiskLimitAdjustmentSerializer,
)
from apps.api.views import DeskReadViewSet
from apps.common.audit import Via, audit_record
from apps.common.errors import NotAllowed, NotFound
from apps.exchanges.roles import Role, user_has_role
from apps.goals.services import drawdown_clear, goal_delete, goal_save, goals_snapshot
from apps.goals.status import goal_history, goal_statuses


class SnapshotRequestSerializer(serializers.Serializer):
    on = serializers.DateField(required=False, allow_null=True, help_text="The day (UTC); today by default")


class SnapshotAnswerSerializer(serializers.Serializer):
    snapshots = serializers.IntegerField()
    status_changes = serializers.IntegerField()
    failed = serializers.IntegerField()


class DrawdownClearSerializer(ReasonSerializer):
    account = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class DrawdownClearAnswerSerializer(serializers.Serializer):
    cleared = serializers.IntegerField(help_text="Breaches of this month cleared: entries resume")


def _write_values(request, *, partial: bool) -> dict:
    body = GoalWriteSerializer(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


class GoalViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, DeskReadViewSet):
    """Financial goals: monthly return, monthly income, portfolio value; per account, or for all
    accounts (account null: admins set those)."""

    select = selectors.api_goals
    serializer_class = GoalSerializer
    filterset_class = filters.GoalFilter
    ordering_fields = ["id", "kind", "updated_at"]

    @extend_schema(request=GoalWriteSerializer, responses={201: GoalSerializer}, parameters=[IDEMPOTENCY])
    def create(self, request):
        def run():
            goal = goal_save(actor=request.user, values=_write_values(request, partial=False), via=Via.API)
            return Response(GoalSerializer(self.get_queryset().get(pk=goal.pk)).data, status=status.HTTP_201_CREATED)

        return idempotent(request, run)

    @extend_schema(request=GoalWriteSerializer, responses={200: GoalSerializer}, parameters=[IDEMPOTENCY])
    def update(self, request, pk=None, partial=False):
        def run():
            goal = self.get_object()
            goal_save(actor=request.user, goal_id=goal.pk, values=_write_values(request, partial=True), via=Via.API)
            return Response(GoalSerializer(self.get_queryset().get(pk=goal.pk)).data)

        return idempotent(request, run)

    @extend_schema(request=GoalWriteSerializer, responses={200: GoalSerializer}, parameters=[IDEMPOTENCY])
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(responses={204: None}, parameters=[IDEMPOTENCY])
    def destroy(self, request, pk=None):
        def run():
            goal_delete(actor=request.user, goal_id=self.get_object().pk, via=Via.API)
            return Response(status=status.HTTP_204_NO_CONTENT)

        return idempotent(request, run)

    @extend_schema(responses={200: GoalStatusSerializer(many=True)}, summary="Where every active goal stands now")
    @action(detail=False, methods=["get"], pagination_class=None)
    def status(self, request):
        goals = list(self.filter_queryset(self.get_queryset()).filter(active=True).order_by("pk"))
        return Response(GoalStatusSerializer(goal_statuses(goals=goals, now=timezone.now()), many=True).data)

    @extend_schema(responses={200: GoalSnapshotSerializer(many=True)}, summary="The goal's daily snapshots, newest first")
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request, pk=None):
        return Response(GoalSnapshotSerializer(goal_history(goal=self.get_object()), many=True).data)

    @extend_schema(
        request=SnapshotRequestSerializer,
        responses={200: SnapshotAnswerSerializer},
        parameters=[IDEMPOTENCY],
        summary="Snapshot every active goal now (idempotent per goal and day) and refresh the sizing stances",
    )
    @action(detail=False, methods=["post"])
    def snapshot(self, request):
        def run():
            body = SnapshotRequestSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            if not user_has_role(request.user, Role.TRADER):
                raise NotAllowed("Taking goal snapshots needs the trader role.")
            day: date | None = body.validated_data.get("on")
            counts = goals_snapshot(on=day)
            audit_record(actor=request.user, via=Via.API, action="goals.snapshot", object_type="goals.goal", after=counts)
            return Response(counts)

        return idempotent(request, run)


class GoalAdjustmentViewSet(DeskReadViewSet):
    """Every goal-aware sizing decision on an entry: size before, each factor, size after, the
    hard limit that capped it."""

    select = selectors.api_goal_adjustments
    serializer_class = GoalAdjustmentSerializer
    filterset_class = filters.GoalAdjustmentFilter
    ordering_fields = ["id", "created_at"]


class RiskLimitAdjustmentViewSet(DeskReadViewSet):
    """Each change of an account's adaptive risk stance (the max position % in force)."""

    select = selectors.api_risk_limit_adjustments
    serializer_class = RiskLimitAdjustmentSerializer
    filterset_class = filters.RiskLimitAdjustmentFilter
    ordering_fields = ["id", "created_at"]


class DrawdownEventViewSet(DeskReadViewSet):
    """Breaches of the goal drawdown protection (once per account, month and level)."""

    select = selectors.api_drawdown_events
    serializer_class = DrawdownEventSerializer
    filterset_class = filters.DrawdownEventFilter
    ordering_fields = ["id", "created_at"]

    @extend_schema(
        request=DrawdownClearSerializer,
        responses={200: DrawdownClearAnswerSerializer},
        parameters=[IDEMPOTENCY],
        summary="Resume entries on an account this month (the breaches stay recorded)",
    )
    @action(detail=False, methods=["post"])
    def clear(self, request):
        def run():
            body = _reason(request, DrawdownClearSerializer)
            if not selectors.api_accounts(user=request.user).filter(pk=body["account"]).exists():
                raise NotFound(f"no account #{body['account']} among your accounts")
            cleared = drawdown_clear(actor=request.user, account_id=body["account"], reason=body["reason"], via=Via.API)
            return Response({"cleared": cleared})

        return idempotent(request, run)
