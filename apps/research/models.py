import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models

from apps.common.models import TimeStampedModel
from apps.markets.timeframes import TIMEFRAME_CHOICES
from apps.trading.models import MONEY


class Study(TimeStampedModel):
    """An Optuna study of one strategy on one span: its trials live in Optuna's tables (same
    database), each finished trial is also a BacktestRun with sweep_id = `uuid` (train figures
    in `metrics`, test figures in `test_metrics`).

    `trials_claimed` hands out trial slots: a worker claims one with a conditional UPDATE
    before asking Optuna for a trial, so any number of workers stop at exactly `trials`."""

    class Status(models.TextChoices):
        RUNNING = "running"
        FINISHED = "finished"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=40, help_text="The engine strategy")
    request = models.JSONField(help_text="The backtest as asked (symbols, fees, fixed params...), without the span")
    space = models.JSONField(help_text="name -> searched range; stop_loss/take_profit/trailing_stop in % of price")
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=4, choices=TIMEFRAME_CHOICES)
    train_start = models.DateTimeField()
    train_end = models.DateTimeField(help_text="Exclusive; the test part starts here or later")
    test_start = models.DateTimeField()
    test_end = models.DateTimeField(help_text="Exclusive")
    objective = models.CharField(max_length=30)
    sampler = models.CharField(max_length=10)
    pruner = models.CharField(max_length=10)
    seed = models.IntegerField(default=0)
    trials = models.PositiveIntegerField(help_text="Trials to finish")
    trials_claimed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    walk_forward = models.UUIDField(null=True, blank=True, db_index=True, help_text="The walk-forward this is a fold of")
    fold = models.PositiveSmallIntegerField(null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="studies")
    strategy = models.ForeignKey(
        "strategies.Strategy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="studies",
        help_text="The configured strategy studied (its account's members see the study); blank: an engine kind alone",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "studies"

    def __str__(self):
        return f"study #{self.pk} {self.kind} {','.join(self.symbols)} {self.timeframe} ({self.objective})"

    @property
    def optuna_name(self) -> str:
        return f"tradedesk-{self.uuid}"


class StrategyReview(models.Model):
    """One running strategy's row in the daily review (apps.research.review): its rank among
    its account's running strategies on that day's window, its figures, the market's regime
    on its first market, and what the review did (paused it for a breached rule, promoted it
    where the account allows automatic promotion to live). Once per strategy and day."""

    class Verdict(models.TextChoices):
        TOP = "top", "Top performer"
        STEADY = "steady", "Steady"
        UNDER = "under", "Underperformer"
        CANDIDATE = "candidate", "Activation candidate"
        BREACH = "breach", "Breaching its rules"

    class Action(models.TextChoices):
        NONE = "", "None"
        PAUSED = "paused", "Paused"
        PROMOTED = "promoted", "Promoted to live"

    day = models.DateField(db_index=True)
    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="reviews")
    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    stage = models.CharField(max_length=10)
    rank = models.PositiveIntegerField(help_text="1 = the best return among the account's running strategies")
    ranked = models.PositiveIntegerField(help_text="Running strategies ranked on the account that day")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    regime = models.CharField(max_length=10, blank=True, help_text="trending / ranging / volatile; blank: too few candles")
    regime_figures = models.JSONField(default=dict, blank=True)
    trades = models.PositiveIntegerField(default=0)
    pnl = models.DecimalField(max_digits=30, decimal_places=12, default=0)
    return_pct = models.FloatField(null=True, blank=True)
    sharpe = models.FloatField(null=True, blank=True)
    max_drawdown_pct = models.FloatField(null=True, blank=True)
    rules = models.JSONField(default=list, blank=True, help_text="[{rule, passed, detail}] checked")
    action = models.CharField(max_length=10, choices=Action.choices, blank=True, default="")
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["strategy", "day"], name="one_review_per_strategy_and_day")]
        ordering = ["-day", "account_id", "rank"]

    def __str__(self):
        return f"review {self.day} #{self.rank} {self.strategy_id} {self.verdict}"


class LiveBacktestReport(TimeStampedModel):
    """One day of a strategy, live beside the backtest of the same candles (apps/research/
    live_vs_backtest.py): written by the nightly task or `manage.py live_vs_backtest`, again on a
    rerun (one row per strategy and day). `trades` holds every compared trade: matched (both
    sides and the slippage), missing (backtest only) and extra (live only) with the reason."""

    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="live_backtest_reports")
    day = models.DateField(help_text="The UTC day compared")
    window_start = models.DateTimeField(help_text="First candle compared (the day's start, or the first live evaluation)")
    window_end = models.DateTimeField(help_text="Exclusive")
    problem = models.TextField(blank=True, help_text="Why there is nothing to compare; blank when compared")
    matched = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    extra = models.PositiveIntegerField(default=0)
    live_pnl = models.DecimalField(**MONEY, default=0)
    backtest_pnl = models.DecimalField(**MONEY, default=0)
    pnl_difference = models.DecimalField(**MONEY, default=0, help_text="Live P&L minus backtest P&L")
    allocation = models.DecimalField(**MONEY, null=True, blank=True, help_text="The allocation in quote (divergence's unit)")
    divergence = models.DecimalField(
        max_digits=20,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="|P&L difference| / allocation; blank: nothing to compare",
    )
    slippage = models.JSONField(default=dict, blank=True, help_text="p50 / p95 of the matched trades, quote and %")
    trades = models.JSONField(default=list, blank=True)
    threshold = models.DecimalField(
        max_digits=20, decimal_places=8, null=True, blank=True, help_text="The alert threshold applied"
    )
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When the divergence event was recorded")

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [models.UniqueConstraint(fields=["strategy", "day"], name="live_backtest_report_once_a_day")]

    def __str__(self):
        return f"{self.strategy} {self.day}: {self.matched} matched, {self.missing} missing, {self.extra} extra"

    @property
    def divergence_pct(self) -> str:
        return "" if self.divergence is None else f"{(self.divergence * 100).quantize(Decimal('0.01')):f}"

    @property
    def threshold_pct(self) -> str:
        return "" if self.threshold is None else f"{(self.threshold * 100).normalize():f}"


class StrategySearch(TimeStampedModel):
    """One run of `generate_strategies`: a seeded genetic search over the "rules" strategy's
    building blocks on one account's markets. Its candidates are evaluated on the `research`
    queue; the task that finishes a generation breeds the next; the last one ranks them and
    stores the survivors as stopped Strategies (GeneratedCandidate.strategy)."""

    class Status(models.TextChoices):
        RUNNING = "running"
        FINISHED = "finished"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.PROTECT, related_name="strategy_searches")
    request = models.JSONField(help_text="The backtest settings (symbols, exchange, fees) every candidate runs with")
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=4, choices=TIMEFRAME_CHOICES)
    start = models.DateTimeField(help_text="First candle of the search")
    end = models.DateTimeField(help_text="Exclusive")
    folds = models.JSONField(help_text="The walk-forward: in-sample window, then each fold's out-of-sample window")
    objective = models.CharField(max_length=30)
    seed = models.IntegerField(default=0)
    count = models.PositiveIntegerField(help_text="Candidates to evaluate, all generations together")
    generations = models.PositiveIntegerField()
    generation = models.PositiveIntegerField(default=0, help_text="The generation being evaluated")
    survivors = models.PositiveIntegerField(help_text="At most this many best candidates become strategies")
    min_trades = models.PositiveIntegerField(default=3, help_text="Out-of-sample trades a survivor needs at least")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="strategy_searches"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "strategy searches"

    def __str__(self):
        return f"search #{self.pk} {','.join(self.symbols)} {self.timeframe} (seed {self.seed})"

    def generation_size(self, generation: int) -> int:
        """The count shared out: the first generations take one more when it does not divide."""
        share, extra = divmod(self.count, self.generations)
        return share + (1 if generation < extra else 0)


class GeneratedCandidate(models.Model):
    """One genome of a search and its scores: in-sample objective (the fitness the search
    breeds on), out-of-sample objective (the mean over the walk-forward's test windows),
    stability (share of those windows that made money), trades (out of sample), the bias
    checks' verdict. A survivor links to the Strategy it became."""

    class Status(models.TextChoices):
        PENDING = "pending"
        EVALUATED = "evaluated"
        FAILED = "failed"

    search = models.ForeignKey(StrategySearch, on_delete=models.CASCADE, related_name="candidates")
    generation = models.PositiveIntegerField()
    number = models.PositiveIntegerField(help_text="Its place in the search, from 0")
    params = models.JSONField(help_text='The "rules" strategy params: entry and exit rules')
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    bias_passed = models.BooleanField(null=True)
    bias_detail = models.TextField(blank=True)
    in_sample = models.FloatField(null=True, blank=True)
    out_of_sample = models.FloatField(null=True, blank=True)
    stability = models.FloatField(null=True, blank=True)
    trades = models.PositiveIntegerField(default=0)
    fold_figures = models.JSONField(default=list, blank=True)
    detail = models.TextField(blank=True, help_text="Why a candidate has no score (e.g. the strategy refused the data)")
    rank = models.PositiveIntegerField(null=True, blank=True, help_text="1 = best survivor")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="generated_from"
    )

    class Meta:
        ordering = ["search", "rank", "number"]
        constraints = [models.UniqueConstraint(fields=["search", "number"], name="candidate_unique_number")]

    def __str__(self):
        return f"candidate {self.number} of search #{self.search_id}: {self.params.get('entry')} => {self.params.get('exit')}"
