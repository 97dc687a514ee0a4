from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from apps.common.models import TimeStampedModel
from apps.markets.timeframes import TIMEFRAME_CHOICES, TIMEFRAME_SECONDS

PRICE = {"max_digits": 30, "decimal_places": 12}


class Exchange(TimeStampedModel):
    """A venue, named by its ccxt id (binance for the simulated exchange too)."""

    code = models.SlugField(max_length=40, unique=True, help_text="Our name for it, e.g. sim or binance")
    ccxt_id = models.CharField(max_length=40, default="binance", help_text="The ccxt class that speaks its API")
    name = models.CharField(max_length=80)
    api_url = models.URLField(
        blank=True, help_text="Where its API answers when it is not the venue's own: the simulated exchange's URL"
    )

    def __str__(self):
        return self.name


class Market(TimeStampedModel):
    exchange = models.ForeignKey(Exchange, on_delete=models.PROTECT, related_name="markets")
    symbol = models.CharField(max_length=40, help_text="Unified ccxt symbol, e.g. BTC/USDT")
    base = models.CharField(max_length=20)
    quote = models.CharField(max_length=20)
    price_precision = models.DecimalField(**PRICE, default=Decimal("0.01"), help_text="Price tick size")
    amount_precision = models.DecimalField(**PRICE, default=Decimal("0.00001"), help_text="Amount step size")
    min_notional = models.DecimalField(**PRICE, default=Decimal("5"), help_text="Smallest order value in quote")
    taker_fee = models.DecimalField(
        max_digits=10,
        decimal_places=6,
        default=Decimal("0.001"),
        help_text="Taker fee as a fraction (0.001 = 0.1 %); entries are sized so the fee fits the allocation",
    )
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["exchange", "symbol"], name="market_unique_symbol")]
        ordering = ["exchange__code", "symbol"]

    def __str__(self):
        return f"{self.symbol} on {self.exchange.code}"

    @property
    def slug(self) -> str:
        return self.symbol.replace("/", "-")


class Candle(models.Model):
    """One closed candle; open_time is the candle's start (UTC)."""

    # No separate index on market: the unique (market, timeframe, open_time) index serves
    # every range read, and one index less makes bulk inserts faster.
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="candles", db_index=False)
    timeframe = models.CharField(max_length=4, choices=TIMEFRAME_CHOICES)
    open_time = models.DateTimeField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.DecimalField(max_digits=36, decimal_places=12)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["market", "timeframe", "open_time"], name="candle_unique_open_time")]
        ordering = ["market", "timeframe", "open_time"]

    def __str__(self):
        return f"{self.market.symbol} {self.timeframe} {self.open_time:%Y-%m-%d %H:%M}"


class CollectorStatus(TimeStampedModel):
    """The collector of one (market, timeframe): what it has, when it last worked, what failed."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="collectors")
    timeframe = models.CharField(max_length=4, choices=TIMEFRAME_CHOICES)
    active = models.BooleanField(default=True)
    last_candle_time = models.DateTimeField(null=True, blank=True, help_text="Open time of the newest stored candle")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error_class = models.CharField(max_length=40, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    error_counts = models.JSONField(default=dict, blank=True, help_text="Fetch errors so far, by class")
    candles_stored = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["market", "timeframe"], name="collector_unique_pair")]
        verbose_name_plural = "collector statuses"

    def __str__(self):
        return f"{self.market.symbol} {self.timeframe}"

    def clean(self):
        if self.timeframe not in TIMEFRAME_SECONDS:
            raise ValidationError({"timeframe": f"Unknown timeframe {self.timeframe!r}."})

    @property
    def period(self) -> timedelta:
        return timedelta(seconds=TIMEFRAME_SECONDS[self.timeframe])

    def data_age(self, now=None) -> timedelta | None:
        """Time since the newest stored candle closed (None when nothing is stored yet)."""
        if self.last_candle_time is None:
            return None
        return (now or timezone.now()) - (self.last_candle_time + self.period)

    def is_fresh(self, now=None) -> bool:
        """Fresh while the newest closed candle is less than two periods old."""
        age = self.data_age(now)
        return age is not None and age < 2 * self.period


class MarketScore(models.Model):
    """A market's pair-selection score of one UTC day (engine/pair_scores.py): its volatility,
    volume and risk-adjusted momentum over the lookback, and their z-scores against the other
    markets scored that day. Written by the daily task; the newest day is what strategies with
    "top N by score" and the data page read."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="scores")
    day = models.DateField(help_text="UTC day scored (the lookback ends at the start of the next day, or now)")
    timeframe = models.CharField(max_length=4, choices=TIMEFRAME_CHOICES, help_text="Candles the figures come from")
    lookback_days = models.PositiveSmallIntegerField()
    bars = models.PositiveIntegerField()
    volatility = models.FloatField(help_text="Annualised standard deviation of log returns (0.8 = 80 %)")
    volume = models.FloatField(help_text="Mean quote volume per day")
    momentum = models.FloatField(help_text="Log return over the lookback / (volatility of the bars x sqrt(bars))")
    z_volatility = models.FloatField()
    z_volume = models.FloatField()
    z_momentum = models.FloatField()
    score = models.FloatField(help_text="Sum of the z-scores (weighted)")
    rank = models.PositiveIntegerField(help_text="1 = highest score of the day")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["market", "day"], name="market_score_once_a_day")]
        ordering = ["-day", "rank"]

    def __str__(self):
        return f"{self.market.symbol} {self.day}: {self.score:+.2f} (#{self.rank})"
