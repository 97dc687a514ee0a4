from decimal import Decimal

from django.db import models

from apps.common.models import TimeStampedModel
from apps.markets.timeframes import TIMEFRAME_CHOICES

MONEY = {"max_digits": 30, "decimal_places": 12}


class Strategy(TimeStampedModel):
    """A configured engine strategy trading some markets of one account."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"

    class Stage(models.TextChoices):
        """Where the strategy is on its way to real money; only a promotion moves it on
        (apps.research.promotion)."""

        CANDIDATE = "candidate", "Candidate"
        PAPER = "paper", "Paper"
        LIVE = "live", "Live"

    class Allocation(models.TextChoices):
        QUOTE = "quote", "Fixed quote amount per entry"
        EQUITY_PCT = "equity_pct", "% of account equity per entry"

    name = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=40, help_text="The engine strategy (from its registry)")
    params = models.JSONField(default=dict, blank=True, help_text="Validated against the strategy's schema; defaults filled in")
    markets = models.ManyToManyField("markets.Market", related_name="strategies")
    timeframe = models.CharField(max_length=4, choices=TIMEFRAME_CHOICES, default="1m")
    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.PROTECT, related_name="strategies")
    allocation_type = models.CharField(max_length=12, choices=Allocation.choices, default=Allocation.QUOTE)
    allocation_value = models.DecimalField(
        **MONEY, default=Decimal("100"), help_text="Quote amount (e.g. 100 USDT) or percent of equity (e.g. 10)"
    )
    stop_loss_pct = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Protective stop below the entry, in %, when the signal gives none",
    )
    take_profit_pct = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    trailing_stop_pct = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    markets_top = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        verbose_name="top N markets by score",
        help_text="Open positions only in the N best-scored of these markets on the newest daily pair score "
        "(the data page); exits are always evaluated. Blank: every market.",
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.STOPPED, db_index=True)
    status_reason = models.CharField(max_length=300, blank=True)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.CANDIDATE, db_index=True)
    stage_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the strategy entered its stage: a paper period is measured from here"
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0, help_text="Evaluation errors and rejected orders so far")
    last_error = models.TextField(blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "strategies"
        ordering = ["name"]
        # A trader starts, pauses and stops; editing params and allocation is an admin's change.
        permissions = [("change_strategy_status", "Can start, pause and stop a strategy")]

    def __str__(self):
        return f"{self.name} ({self.kind} {self.timeframe})"


class StrategyEvaluation(models.Model):
    """The evaluation log: one row per (strategy, market, closed candle); the unique key makes a
    redelivered evaluation a no-op."""

    class Outcome(models.TextChoices):
        SIGNAL = "signal", "Signal"
        NOTHING = "nothing", "No signal"
        ERROR = "error", "Error"
        SKIPPED = "skipped", "Skipped"

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="evaluations")
    market = models.ForeignKey("markets.Market", on_delete=models.CASCADE, related_name="+")
    candle_time = models.DateTimeField(help_text="Open time of the closed candle evaluated")
    created_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    duration_ms = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["strategy", "market", "candle_time"], name="evaluation_once_per_candle")]
        ordering = ["-candle_time"]

    def __str__(self):
        return f"{self.strategy.name} {self.market.symbol} {self.candle_time:%Y-%m-%d %H:%M} {self.outcome}"
