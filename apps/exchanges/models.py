from django.core.exceptions import ValidationError
from django.db import models

from apps.common.fields import EncryptedTextField
from apps.common.models import TimeStampedModel


class ExchangeAccount(TimeStampedModel):
    """One exchange login. Keys are encrypted at rest and never shown back in full."""

    class Mode(models.TextChoices):
        SIM = "sim", "Simulated exchange"
        PAPER = "paper", "Paper trading"
        LIVE = "live", "Live"

    name = models.CharField(max_length=80, unique=True)
    exchange = models.ForeignKey("markets.Exchange", on_delete=models.PROTECT, related_name="accounts")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.SIM)
    api_key = EncryptedTextField(blank=True)
    api_secret = EncryptedTextField(blank=True)
    base_url = models.URLField(blank=True, help_text="Leave blank to use the exchange's API URL")
    active = models.BooleanField(default=True)

    def __str__(self):
        return f"{self.name} ({self.get_mode_display()})"

    def clean(self):
        if self.mode == self.Mode.SIM and not self.api_url:
            raise ValidationError({"base_url": "A sim account needs the simulated exchange's URL (here or on the exchange)."})
        if self.mode in (self.Mode.SIM, self.Mode.LIVE) and not (self.api_key and self.api_secret):
            raise ValidationError("Enter both the API key and the API secret.")

    @property
    def api_url(self) -> str:
        return self.base_url or (self.exchange.api_url if self.exchange_id else "")

    @property
    def masked_api_key(self) -> str:
        return f"{self.api_key[:4]}…{self.api_key[-2:]}" if len(self.api_key) > 8 else "••••"


class AccountMembership(TimeStampedModel):
    """A user may see (and, by role, act on) an account only as its member; superusers see all.
    What a member may do is the user's role (apps.exchanges.roles), not the membership."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="account_memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="one_membership_per_user_and_account")]

    def __str__(self):
        return f"{self.user} on {self.account}"
