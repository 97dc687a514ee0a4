from decimal import Decimal

from django.conf import settings
from django.db import models

from apps.common.models import TimeStampedModel

# The status reason of a pause by the daily review starts so (apps.research.review); its alert is
# the `strategy.rule_breached` event's, so the pause's own alert leaves it out (apps.alerts.kinds).
REVIEW_PAUSE_PREFIX = "daily review"


class PromotionPolicy(TimeStampedModel):
    """One account's rules for moving a strategy candidate -> paper -> live, and how many
    strategies it runs at once. An account without a row has the settings' defaults
    (`PROMOTION_*`, `MAX_ACTIVE_STRATEGIES`): `PromotionPolicy.for_account(id)`."""

    account = models.OneToOneField("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="promotion_policy")
    paper_days = models.PositiveIntegerField(help_text="Days on paper before a promotion to live")
    min_trades = models.PositiveIntegerField(help_text="Closed paper trades a promotion to live needs at least")
    min_sharpe = models.DecimalField(max_digits=8, decimal_places=3, help_text="Sharpe of the paper period, at least")
    max_drawdown_pct = models.DecimalField(
        max_digits=8, decimal_places=3, help_text="Max drawdown % of the paper period at most; the daily review pauses beyond it"
    )
    max_divergence_pct = models.DecimalField(
        max_digits=8, decimal_places=3, help_text="Live-vs-backtest divergence % of the paper period, at most"
    )
    max_active_strategies = models.PositiveIntegerField(help_text="Strategies running at once on the account, at most")
    auto_live = models.BooleanField(
        default=False,
        help_text="The daily review promotes a paper strategy passing every rule to live without a trader (admins only)",
    )

    class Meta:
        verbose_name_plural = "promotion policies"

    def __str__(self):
        return f"promotion rules of account #{self.account_id}"

    @classmethod
    def defaults(cls) -> dict:
        return {
            "paper_days": settings.PROMOTION_PAPER_DAYS,
            "min_trades": settings.PROMOTION_MIN_TRADES,
            "min_sharpe": Decimal(settings.PROMOTION_MIN_SHARPE),
            "max_drawdown_pct": Decimal(settings.PROMOTION_MAX_DRAWDOWN_PCT),
            "max_divergence_pct": Decimal(settings.PROMOTION_MAX_DIVERGENCE_PCT),
            "max_active_strategies": settings.MAX_ACTIVE_STRATEGIES,
        }

    @classmethod
    def for_account(cls, account_id: int) -> "PromotionPolicy":
        """The account's row, or an unsaved one with the defaults."""
        return cls.objects.filter(account_id=account_id).first() or cls(account_id=account_id, **cls.defaults())
