"""Channels are configured here by admins, rules by traders and admins (for their accounts; a
viewer sees, never creates; desk-wide ones by superusers); alerts and their
deliveries are history, read-only. Every row is scoped to the user's accounts, every edit audited
(secrets show only as set / replaced)."""

from django import forms
from django.contrib import admin, messages

from apps.alerts.actions import alert_acknowledge, alert_resolve, alert_snooze
from apps.alerts.channels import channel_errors, channel_test
from apps.alerts.models import Alert, AlertRule, Channel, Delivery
from apps.alerts.validation import rule_errors
from apps.common.admin_audit import AuditedAdminMixin
from apps.common.audit import Via
from apps.common.errors import ApplicationError
from apps.exchanges.admin_access import AccountScopedAdmin


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = (
            "name",
            "kind",
            "owner",
            "account",
            "min_priority",
            "url",
            "secret",
            "address",
            "smtp_host",
            "smtp_port",
            "smtp_user",
            "smtp_tls",
            "email_from",
            "quiet_from",
            "quiet_until",
            "active",
        )
        widgets = {"url": forms.PasswordInput(render_value=False), "secret": forms.PasswordInput(render_value=False)}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # a blank secret field keeps the stored one
            for name in ("url", "secret"):
                self.fields[name].help_text += " (leave blank to keep the stored value)"

    def clean(self):
        cleaned = super().clean()
        for name in ("url", "secret"):
            if self.instance.pk and not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name)
        errors = channel_errors(cleaned)
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned


@admin.register(Channel)
class ChannelAdmin(AuditedAdminMixin, AccountScopedAdmin, admin.ModelAdmin):
    form = ChannelForm
    shared_rows = True  # desk-wide channels: every reader sees them, superusers change them
    list_display = ("name", "kind", "owner", "account", "min_priority", "quiet_from", "quiet_until", "active")
    list_filter = ("kind", "active", "account")
    actions = ["send_test"]

    def has_send_test_permission(self, request) -> bool:
        return request.user.has_perm("alerts.change_channel")

    @admin.action(description="Send a test message to the selected channels", permissions=["send_test"])
    def send_test(self, request, queryset):
        for channel in queryset:
            try:
                result = channel_test(actor=request.user, channel=channel, via=Via.ADMIN)
            except ApplicationError as error:
                self.message_user(request, f"{channel}: {error.message}", messages.ERROR)
                continue
            level = messages.SUCCESS if result.outcome == "sent" else messages.ERROR
            self.message_user(request, f"{channel}: {result.outcome} — {result.response[:200]}", level)


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = (
            "name",
            "account",
            "condition",
            "threshold",
            "event_kinds",
            "priority",
            "min_priority",
            "accounts",
            "markets",
            "strategies",
            "channels",
            "active",
        )

    def clean(self):
        cleaned = super().clean()
        errors = rule_errors(
            condition=cleaned.get("condition") or "",
            threshold=cleaned.get("threshold"),
            event_kinds=cleaned.get("event_kinds") or [],
            markets=list(cleaned.get("markets") or []),
            account=cleaned.get("account"),
            accounts=list(cleaned.get("accounts") or []),
            strategies=list(cleaned.get("strategies") or []),
        )
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(AlertRule)
class AlertRuleAdmin(AuditedAdminMixin, AccountScopedAdmin, admin.ModelAdmin):
    form = AlertRuleForm
    shared_rows = True  # the desk's rules
    list_display = ("name", "account", "condition", "threshold", "event_kinds", "priority", "active")
    list_filter = ("active", "condition", "account")


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ("channel", "outcome", "attempt", "digest_count", "response", "at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ReadOnlyHistory:
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyHistory, AccountScopedAdmin, admin.ModelAdmin):
    shared_rows = True  # desk-wide alerts (the global kill switch)
    list_display = ("created_at", "priority", "kind", "account", "title", "status", "acknowledged_by")
    list_filter = ("priority", "status", "kind", "account")
    search_fields = ("title", "body", "dedup_key")
    readonly_fields = [field.name for field in Alert._meta.fields]
    inlines = [DeliveryInline]
    actions = ["acknowledge", "resolve", "snooze_hour"]

    def has_acknowledge_permission(self, request) -> bool:
        return request.user.has_perm("alerts.acknowledge_alert")

    def _each(self, request, queryset, verb: str, service, **extra) -> None:
        """One service call per alert (it checks the role and the account and audits it)."""
        done = 0
        for alert in queryset:
            try:
                service(actor=request.user, alert_id=alert.pk, via=Via.ADMIN, reason="from the admin", **extra)
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"Alert #{alert.pk}: {error.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} alert{'' if done == 1 else 's'} {verb}.", messages.SUCCESS)

    @admin.action(description="Acknowledge the selected alerts", permissions=["acknowledge"])
    def acknowledge(self, request, queryset):
        self._each(request, queryset, "acknowledged", alert_acknowledge)

    @admin.action(description="Resolve the selected alerts", permissions=["acknowledge"])
    def resolve(self, request, queryset):
        self._each(request, queryset, "resolved", alert_resolve)

    @admin.action(description="Snooze the selected alerts for an hour", permissions=["acknowledge"])
    def snooze_hour(self, request, queryset):
        self._each(request, queryset, "snoozed for an hour", alert_snooze, minutes=60)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyHistory, AccountScopedAdmin, admin.ModelAdmin):
    account_paths = ("alert__account",)
    shared_rows = True
    list_display = ("at", "alert", "channel", "outcome", "attempt", "digest_count")
    list_filter = ("outcome", "channel")
    readonly_fields = [field.name for field in Delivery._meta.fields]
