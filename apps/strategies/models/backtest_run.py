from django.db import models

from apps.common.models import TimeStampedModel
from apps.markets.timeframes import TIMEFRAME_CHOICES

MONEY = {"max_digits": 30, "decimal_places": 12}


class BacktestRun(TimeStampedModel):
    """One backtest as it ran: what was asked, on which data and code, and what came out.

    A parameter sweep stores one row per parameter set under one `sweep_id`: `metrics` are the
    in-sample (train) figures, `test_metrics` the out-of-sample ones."""

    strategy = models.ForeignKey(
        "strategies.Strategy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backtest_runs",
        help_text="The configured strategy, when run by id",
    )
    kind = models.CharField(max_length=40, help_text="The engine strategy")
    params = models.JSONField(default=dict, blank=True)
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=4, choices=TIMEFRAME_CHOICES)
    detail_timeframe = models.CharField(max_length=4, choices=TIMEFRAME_CHOICES, blank=True)
    data_start = models.DateTimeField(help_text="Open time of the first candle used")
    data_end = models.DateTimeField(help_text="Open time of the last candle used")
    candle_count = models.PositiveIntegerField(default=0)
    initial_balance = models.DecimalField(**MONEY)
    settings = models.JSONField(default=dict, blank=True, help_text="Fees, slippage, sizing, stops: the engine config")
    data_hash = models.CharField(max_length=64, help_text="sha256 of the candle arrays")
    code_version = models.CharField(max_length=120, help_text="git commit and hash of the engine sources")
    metrics = models.JSONField(default=dict, blank=True)
    equity_curve = models.JSONField(default=list, blank=True, help_text="[time ms, equity] pairs, downsampled")
    trades = models.JSONField(default=list, blank=True)
    report_path = models.CharField(max_length=500, blank=True)
    sweep_id = models.UUIDField(null=True, blank=True, db_index=True)
    sweep_metric = models.CharField(max_length=40, blank=True)
    split_at = models.DateTimeField(null=True, blank=True, help_text="Sweeps: first open time of the test part")
    test_metrics = models.JSONField(null=True, blank=True, help_text="Sweeps: out-of-sample figures")
    is_best = models.BooleanField(default=False, help_text="Sweeps: the best parameter set by the sweep's metric")
    owner = models.ForeignKey(
        "auth.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backtest_runs",
        help_text="Who ran it: the owner may open its report (besides the strategy's account members)",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"#{self.pk} {self.kind} {','.join(self.symbols)} {self.timeframe}"

    @property
    def total_return_pct(self):
        return self.metrics.get("total_return_pct")
