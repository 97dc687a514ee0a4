from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apps.common.admin_audit import AuditedAdminMixin
from apps.common.errors import ApplicationError, Invalid
from apps.common.validation import form_errors_add
from apps.exchanges.admin_access import AccountScopedAdmin
from apps.goals.models import DrawdownEvent, Goal, GoalAdjustment, GoalSnapshot, RiskLimitAdjustment
from apps.goals.services import goal_activated, goals_snapshot, sizing_stances_refresh
from apps.goals.status import catch_up_evidence
from apps.goals.validation import goal_validate


class GoalForm(forms.ModelForm):
    """Checked by the one validation of goals: every bad field at once."""

    class Meta:
        model = Goal
        fields = ("account", "kind", "target", "deadline", "active", "catch_up_enabled")

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned.get(name) for name in ("kind", "target", "deadline")}
        changed_deadline = "deadline" in self.changed_data
        try:
            goal_validate(values, now=timezone.now() if changed_deadline else None)
        except Invalid as exc:
            form_errors_add(self, exc)
        return cleaned


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Goal)
class GoalAdmin(AuditedAdminMixin, AccountScopedAdmin, admin.ModelAdmin):
    form = GoalForm
    shared_rows = True  # goals set for all accounts: changed by superusers only
    list_display = ("__str__", "kind", "target", "deadline", "active", "catch_up_enabled", "updated_at")
    list_filter = ("kind", "active", "account")
    actions = ("snapshot_now",)
    readonly_fields = ("catch_up_cost",)

    @admin.display(description="What catch-up cost in the backtest")
    def catch_up_cost(self, obj):
        """Shown beside the catch-up switch: the newest `backtest --goal` run of the account."""
        evidence = catch_up_evidence(goal=obj) if obj and obj.pk else None
        if evidence is None:
            return "No goal backtest yet: run manage.py backtest --strategy <id> --goal monthly_return=0.10 to see it first."
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", ((label, off, on) for label, off, on in evidence.rows)
        )
        return format_html(
            "<p>{}</p><table><thead><tr><th></th><th>sizing off</th><th>catch-up on</th></tr></thead><tbody>{}</tbody></table>",
            evidence.label,
            rows,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        goal_activated(goal=obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        sizing_stances_refresh()  # a goal switched on or off takes effect on the next entry

    @admin.action(description="Snapshot the active goals now (and refresh the sizing stances)")
    def snapshot_now(self, request, queryset):
        try:
            counts = goals_snapshot()
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request,
            f"{counts['snapshots']} goal snapshots taken, {counts['status_changes']} status changes"
            + (f", {counts['failed']} failed (see the log)" if counts["failed"] else "")
            + ".",
        )


@admin.register(GoalSnapshot)
class GoalSnapshotAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    account_paths = ("goal__account",)
    list_display = ("day", "goal", "status", "progress", "expected", "pace_ratio", "current", "value", "month_start_value")
    list_filter = ("status", "goal")

    def get_queryset(self, request):
        """The snapshots of the user's accounts' goals, and of the goals set for all accounts."""
        rows = super().get_queryset(request)
        if request.user.is_superuser or not request.user.is_authenticated:
            return rows
        return rows | admin.ModelAdmin.get_queryset(self, request).filter(goal__account__isnull=True)


@admin.register(GoalAdjustment)
class GoalAdjustmentAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "account",
        "signal",
        "base_size",
        "pace_factor",
        "early_month_factor",
        "preservation_factor",
        "final_factor",
        "final_size",
        "capped_by",
    )
    list_filter = ("account", "capped_by")


@admin.register(RiskLimitAdjustment)
class RiskLimitAdjustmentAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "account", "stance", "limit", "base", "progress", "reason")
    list_filter = ("account", "stance")


@admin.register(DrawdownEvent)
class DrawdownEventAdmin(AccountScopedAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "account", "month", "level", "stance", "limit", "actual", "value", "peak", "cleared_at")
    list_filter = ("account", "level", "month")
