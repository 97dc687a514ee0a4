"""Commands (POST): each parses its body, finds the object among the user's (outside = 404),
calls one service with actor=the user and via="api" (the service checks the role, audits and
refuses with ApplicationError), and answers with the resulting object. Every command takes an
Idempotency-Key (apps.api.idempotency)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.alerts.actions import alert_acknowledge, alert_resolve, alert_snooze
from apps.api import selectors
from apps.api.idempotency import HEADER, idempotent
from apps.api.permissions import effective_role
from apps.api.serializers import (
    AccountSerializer,
    AlertSerializer,
    KillSwitchSerializer,
    OrderSerializer,
    PositionSerializer,
    StrategySerializer,
)
from apps.common.audit import Via
from apps.common.errors import NotAllowed, NotFound
from apps.engine.risk_rules import KillState
from apps.exchanges.roles import Role
from apps.research.promotion import strategy_promote
from apps.risk.services import kill_switch_set
from apps.strategies.services.lifecycle import strategy_status_set
from apps.trading.services.operator import account_flatten, order_cancel, position_close

IDEMPOTENCY = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description=(
        "Any unique string (a UUID): a retry with the same key returns the first answer and does nothing again "
        "(kept 24 h); the same key with a different body is a 422."
    ),
)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default="", help_text="Why: kept in the audit trail"
    )


class KillSwitchSetSerializer(ReasonSerializer):
    account = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, allow_null=True, help_text="Account id; null = the global switch (admins only)"
    )
    state = serializers.ChoiceField(choices=[state.value for state in KillState])


class PositionCloseSerializer(serializers.Serializer):
    position = PositionSerializer()
    order = OrderSerializer(allow_null=True, help_text="The closing order (null: it waits for its entry's fills)")
    message = serializers.CharField()


class FlattenSerializer(serializers.Serializer):
    account = AccountSerializer()
    canceled = serializers.ListField(child=serializers.CharField(), help_text="client_order_id of each canceled order")
    closing = serializers.ListField(child=serializers.CharField(), help_text="client_order_id of each closing order")
    dust = serializers.ListField(child=serializers.IntegerField(), help_text="Positions below one exchange step, left")
    failed = serializers.ListField(child=serializers.CharField(), help_text="What could not be done, in words")
    summary = serializers.CharField()


class RuleResultSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="The rule's name: paper_days, min_paper_trades, min_sharpe, max_drawdown")
    passed = serializers.BooleanField()
    detail = serializers.CharField(help_text="What was measured and what the rule asks, in words")


class PromotionSerializer(serializers.Serializer):
    strategy = StrategySerializer()
    from_stage = serializers.CharField()
    to_stage = serializers.CharField()
    rules = RuleResultSerializer(many=True, help_text="The rules checked (none from candidate to paper)")
    message = serializers.CharField()


def _reason(request, serializer_class=ReasonSerializer) -> dict:
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


def _command(**kwargs):
    """A POST action on one object, documented with its body, answer and Idempotency-Key."""

    def wrap(method):
        return extend_schema(
            request=kwargs.pop("request", ReasonSerializer),
            responses={200: kwargs.pop("responses")},
            parameters=[IDEMPOTENCY],
            **kwargs,
        )(action(detail=True, methods=["post"])(method))

    return wrap


class StrategyCommands:
    def _status_set(self, request, status: str) -> Response:
        def run():
            reason = _reason(request)["reason"]
            strategy = self.get_object()
            strategy_status_set(actor=request.user, strategy=strategy, status=status, reason=reason, via=Via.API)
            return Response(StrategySerializer(self.get_queryset().get(pk=strategy.pk)).data)

        return idempotent(request, run)

    @_command(responses=StrategySerializer, summary="Start a strategy")
    def start(self, request, pk=None):
        return self._status_set(request, "running")

    @_command(responses=StrategySerializer, summary="Pause a strategy (its positions stay)")
    def pause(self, request, pk=None):
        return self._status_set(request, "paused")

    @_command(responses=StrategySerializer, summary="Stop a strategy")
    def stop(self, request, pk=None):
        return self._status_set(request, "stopped")

    @_command(
        responses=PromotionSerializer,
        summary="Promote a strategy to its next stage (candidate -> paper -> live): your approval, through the rules",
        description=(
            "Trader role. To live, the paper period must pass every rule of the account's promotion policy; a refusal "
            "is a 409 whose `fields` name each failed rule with its detail. Approvals and refusals are audited."
        ),
    )
    def promote(self, request, pk=None):
        def run():
            reason = _reason(request)["reason"]
            strategy = self.get_object()
            done = strategy_promote(actor=request.user, strategy_id=strategy.pk, via=Via.API, reason=reason)
            return Response(
                {
                    "strategy": StrategySerializer(self.get_queryset().get(pk=strategy.pk)).data,
                    "from_stage": done.from_stage,
                    "to_stage": done.to_stage,
                    "rules": [result.as_dict() for result in done.results],
                    "message": done.describe(),
                }
            )

        return idempotent(request, run)


class PositionCommands:
    @_command(responses=PositionCloseSerializer, summary="Close a position: a market sell through the risk rules")
    def close(self, request, pk=None):
        def run():
            reason = _reason(request)["reason"]
            position = self.get_object()
            closing = position_close(actor=request.user, position_id=position.pk, reason=reason, via=Via.API)
            order = selectors.api_orders(user=request.user).filter(pk=closing.order.pk).first() if closing.order else None
            fresh = self.get_queryset().get(pk=position.pk)
            return Response(
                {
                    "position": PositionSerializer(fresh).data,
                    "order": OrderSerializer(order).data if order else None,
                    "message": closing.describe(),
                }
            )

        return idempotent(request, run)


class OrderCommands:
    @_command(responses=OrderSerializer, summary="Cancel an order")
    def cancel(self, request, pk=None):
        def run():
            reason = _reason(request)["reason"]
            order = self.get_object()
            order_cancel(actor=request.user, order_id=order.pk, reason=reason, via=Via.API)
            return Response(OrderSerializer(self.get_queryset().get(pk=order.pk)).data)

        return idempotent(request, run)


class AccountCommands:
    @_command(responses=FlattenSerializer, summary="Flatten an account: cancel every open order, close every position")
    def flatten(self, request, pk=None):
        def run():
            reason = _reason(request)["reason"]
            account = self.get_object()
            done = account_flatten(actor=request.user, account_id=account.pk, reason=reason, via=Via.API)
            return Response(
                {
                    "account": AccountSerializer(self.get_queryset().get(pk=account.pk)).data,
                    "canceled": [order.client_order_id for order in done.canceled],
                    "closing": [closing.order.client_order_id for closing in done.closing if closing.order],
                    "dust": [position.pk for position in done.dust],
                    "failed": done.failed,
                    "summary": done.summary(),
                }
            )

        return idempotent(request, run)


class KillSwitchCommands:
    @extend_schema(
        request=KillSwitchSetSerializer,
        responses={200: KillSwitchSerializer},
        parameters=[IDEMPOTENCY],
        summary="Set an account's kill switch, or the global one (account null, admins only)",
    )
    @action(detail=False, methods=["post"], url_path="set")
    def set_state(self, request):
        def run():
            body = _reason(request, KillSwitchSetSerializer)
            account = None
            if body["account"] is not None:
                account = selectors.api_accounts(user=request.user).filter(pk=body["account"]).first()
                if account is None:
                    raise NotFound(f"no account #{body['account']} among your accounts")
            elif effective_role(request) < Role.ADMIN:
                raise NotAllowed("The global kill switch needs the admin role (on the user and in the token's scope).")
            switch = kill_switch_set(actor=request.user, account=account, state=body["state"], reason=body["reason"], via=Via.API)
            return Response(KillSwitchSerializer(switch).data)

        return idempotent(request, run)


class SnoozeSerializer(ReasonSerializer):
    minutes = serializers.IntegerField(min_value=1, max_value=7 * 24 * 60, help_text="How long it stays quiet (up to a week)")


class AlertCommands:
    def _alert_act(self, request, service, body_class=ReasonSerializer) -> Response:
        def run():
            body = dict(_reason(request, body_class))
            alert = self.get_object()
            service(actor=request.user, alert_id=alert.pk, via=Via.API, **body)
            return Response(AlertSerializer(self.get_queryset().get(pk=alert.pk)).data)

        return idempotent(request, run)

    @_command(responses=AlertSerializer, summary="Acknowledge an alert (someone is on it: escalation stops)")
    def acknowledge(self, request, pk=None):
        return self._alert_act(request, alert_acknowledge)

    @_command(responses=AlertSerializer, summary="Resolve an alert (dealt with)")
    def resolve(self, request, pk=None):
        return self._alert_act(request, alert_resolve)

    @_command(request=SnoozeSerializer, responses=AlertSerializer, summary="Snooze an alert: triggered again after `minutes`")
    def snooze(self, request, pk=None):
        return self._alert_act(request, alert_snooze, SnoozeSerializer)
