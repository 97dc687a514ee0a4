from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from apps.common.admin_audit import AuditedAdminMixin
from apps.common.audit import Via
from apps.common.errors import ApplicationError, Invalid
from apps.common.validation import form_errors_add
from apps.engine.risk_rules import KillState
from apps.exchanges.admin_access import AccountScopedAdmin
from apps.risk.models import KillSwitch, RiskEvent, RiskLimits, SizingStance
from apps.risk.services import kill_switch_set
from apps.risk.validation import LIMITS, risk_limits_validate


class RiskLimitsForm(forms.ModelForm):
    """Checked by the one validation of risk limits: every bad field at once."""

    class Meta:
        model = RiskLimits
        fields = ("account", "strategy", *LIMITS)

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned.get(name) for name in self.fields if name in cleaned}
        values.setdefault("account", None)
        values.setdefault("strategy", None)
        try:
            risk_limits_validate(values)
        except Invalid as exc:
            form_errors_add(self, exc)
        return cleaned


@admin.register(RiskLimits)
class RiskLimitsAdmin(AuditedAdminMixin, AccountScopedAdmin, admin.ModelAdmin):
    form = RiskLimitsForm
    account_paths = ("account", "strategy__account")
    shared_rows = True  # the desk-wide limits
    list_display = (
        "__str__",
        "max_order_notional",
        "max_position_pct",
        "max_open_positions",
        "max_daily_loss_pct",
        "max_drawdown_pct",
        "max_price_deviation_pct",
        "max_orders_per_minute",
        "max_consecutive_failures",
    )


@admin.register(KillSwitch)
class KillSwitchAdmin(AuditedAdminMixin, AccountScopedAdmin, admin.ModelAdmin):
    """Changes go through kill_switch_set, so each is recorded as a RiskEvent with who did it.
    Setting a switch is the trader's right (risk.set_kill_switch) on its accounts; the global
    switch is shown to all and set by superusers only."""

    audit_saves = False  # saves go through kill_switch_set, which audits them; the mixin audits deletions

    list_display = ("__str__", "state", "reason", "changed_at")
    fields = ("account", "state", "reason")
    actions = ("set_active", "set_reduce_only", "set_halted")
    shared_rows = True  # the global switch

    def has_add_permission(self, request):
        return self.has_set_kill_switch_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_set_kill_switch_permission(request) and self.row_is_writable(request, obj)

    def has_set_kill_switch_permission(self, request):
        return request.user.has_perm("risk.set_kill_switch")

    def save_model(self, request, obj, form, change):
        reason = obj.reason or f"set from the admin by {request.user}"
        try:
            switch = kill_switch_set(actor=request.user, via=Via.ADMIN, account=obj.account, state=obj.state, reason=reason)
        except ApplicationError as error:  # the form's view has no other way to refuse at save time
            raise PermissionDenied(error.message) from error
        obj.pk = switch.pk

    def _set(self, request, queryset, state):
        self.action_rows_check(request, queryset, "risk.set_kill_switch")
        done = 0
        for switch in queryset:
            try:
                kill_switch_set(
                    actor=request.user,
                    via=Via.ADMIN,
                    account=switch.account,
                    state=state,
                    reason=f"set from the admin by {request.user}",
                )
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{switch}: {error.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} kill switch{'' if done == 1 else 'es'} set to {state.upper()}.", messages.WARNING)

    @admin.action(description="ACTIVE: trade normally", permissions=["set_kill_switch"])
    def set_active(self, request, queryset):
        self._set(request, queryset, KillState.ACTIVE)

    @admin.action(description="REDUCE ONLY: closing orders only", permissions=["set_kill_switch"])
    def set_reduce_only(self, request, queryset):
        self._set(request, queryset, KillState.REDUCE_ONLY)

    @admin.action(description="HALTED: no order leaves the desk", permissions=["set_kill_switch"])
    def set_halted(self, request, queryset):
        self._set(request, queryset, KillState.HALTED)


@admin.register(RiskEvent)
class RiskEventAdmin(AccountScopedAdmin, admin.ModelAdmin):
    account_paths = ("account", "strategy__account")
    shared_rows = True  # desk-wide actions (the global kill switch)
    list_display = ("created_at", "decision", "account", "strategy", "rules", "reason")
    list_filter = ("decision", "account", "strategy")
    readonly_fields = [field.name for field in RiskEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SizingStance)
class SizingStanceAdmin(AccountScopedAdmin, admin.ModelAdmin):
    """Written by the goals app from the active goals; shown, never edited."""

    list_display = ("account", "factor", "reason", "updated_at")
    readonly_fields = ("account", "factor", "factors", "reason", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
