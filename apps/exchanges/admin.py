from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from apps.common.admin_audit import AuditedAdminMixin
from apps.exchanges.admin_access import AccountScopedAdmin
from apps.exchanges.clients import call_exchange, ccxt_client_build
from apps.exchanges.errors import AuthenticationFailedError, ExchangeCallError
from apps.exchanges.models import AccountMembership, ExchangeAccount
from apps.exchanges.selectors import account_scoped, accounts_visible_to


class ExchangeAccountForm(forms.ModelForm):
    """Secrets are write-only; keys are checked with the exchange before they are saved."""

    api_key = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}), help_text="Leave blank to keep the stored key."
    )
    api_secret = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Leave blank to keep the stored secret."
    )

    class Meta:
        model = ExchangeAccount
        fields = ("name", "exchange", "mode", "api_key", "api_secret", "base_url", "active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["api_key"] = ""

    def clean(self):
        cleaned = super().clean()
        for secret in ("api_key", "api_secret"):
            if not cleaned.get(secret) and self.instance.pk:
                cleaned[secret] = getattr(self.instance, secret)
        if self.errors or cleaned.get("mode") == ExchangeAccount.Mode.PAPER or not cleaned.get("active"):
            return cleaned
        self._check_keys(cleaned)
        return cleaned

    def _check_keys(self, cleaned):
        base_url = cleaned.get("base_url") or cleaned["exchange"].api_url
        client = ccxt_client_build(
            ccxt_id=cleaned["exchange"].ccxt_id,
            api_key=cleaned.get("api_key", ""),
            secret=cleaned.get("api_secret", ""),
            base_url=base_url,
        )
        client.timeout = 5000
        try:
            call_exchange(client.fetch_balance)
        except AuthenticationFailedError as exc:
            self.add_error(None, f"The exchange refused these API keys: {exc}")
        except ExchangeCallError as exc:
            self.add_error(None, f"Could not check the keys with the exchange ({exc.error_class}): {exc}")

    def _post_clean(self):
        super()._post_clean()
        for secret in ("api_key", "api_secret"):
            setattr(self.instance, secret, self.cleaned_data.get(secret, ""))


class AccountMembershipInline(admin.TabularInline):
    """Members of an account (on the account) or accounts of a user (on the user), limited to
    the accounts the editing user sees; administrators only (the permission is theirs)."""

    model = AccountMembership
    extra = 0

    def get_queryset(self, request):
        return account_scoped(super().get_queryset(request), user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "account":
            kwargs["queryset"] = accounts_visible_to(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MembersInline(AccountMembershipInline):
    fields = ("user", "created_at")
    readonly_fields = ("created_at",)
    verbose_name, verbose_name_plural = "member", "members (who may see this account; what they may do is their role)"


class AccountsInline(AccountMembershipInline):
    fields = ("account", "created_at")
    readonly_fields = ("created_at",)
    verbose_name, verbose_name_plural = "account", "accounts this user sees"


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(AuditedAdminMixin, AccountScopedAdmin, admin.ModelAdmin):
    form = ExchangeAccountForm
    audit_masked_fields = ("api_key", "api_secret")
    list_display = ("name", "exchange", "mode", "masked_api_key", "active", "updated_at")
    list_filter = ("mode", "active", "exchange")
    search_fields = ("name",)
    account_paths = ("pk",)
    inlines = (MembersInline,)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and not request.user.is_superuser:  # else its creator would lose sight of it at once
            AccountMembership.objects.get_or_create(account=obj, user=request.user)


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class DeskUserAdmin(UserAdmin):
    """Users with their accounts. An administrator who is not a superuser manages roles (groups)
    and accounts, but neither superusers nor superuser status nor single permissions: else an
    admin could make itself a superuser and see every account."""

    inlines = (AccountsInline,)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else (*fields, "is_superuser", "user_permissions")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_manage(request, obj)

    @staticmethod
    def _may_manage(request, obj) -> bool:
        return obj is None or request.user.is_superuser or not obj.is_superuser
