from django import forms
from django.contrib import admin

from apps.common.admin_audit import AuditedAdminMixin
from apps.exchanges.clients import call_exchange, ccxt_client_build
from apps.exchanges.errors import AuthenticationFailedError, ExchangeCallError
from apps.exchanges.models import ExchangeAccount


class ExchangeAccountForm(forms.ModelForm):
    """Secrets are write-only; keys are checked with the exchange before they are saved."""

    api_key = forms.CharField(required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}),
                              help_text="Leave blank to keep the stored key.")
    api_secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                                 help_text="Leave blank to keep the stored secret.")

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
        client = ccxt_client_build(ccxt_id=cleaned["exchange"].ccxt_id, api_key=cleaned.get("api_key", ""),
                                   secret=cleaned.get("api_secret", ""), base_url=base_url)
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


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = ExchangeAccountForm
    audit_masked_fields = ("api_key", "api_secret")
    list_display = ("name", "exchange", "mode", "masked_api_key", "active", "updated_at")
    list_filter = ("mode", "active", "exchange")
    search_fields = ("name",)
