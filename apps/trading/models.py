"""Signals, orders and what came of them. Money is Decimal; every change writes an Event."""

from decimal import Decimal

from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce

from apps.common.models import TimeStampedModel
from apps.engine.display import decimal_text
from apps.engine.order_fsm import OrderStatus

MONEY = {"max_digits": 30, "decimal_places": 12}
ZERO = Decimal(0)


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class Signal(TimeStampedModel):
    """What a strategy asked for at a candle's close, kept also when it was refused."""

    class Intent(models.TextChoices):
        OPEN = "open", "Open"
        CLOSE = "close", "Close"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted (order created)"
        REJECTED = "rejected", "Rejected"

    class Source(models.TextChoices):
        STRATEGY = "strategy", "Strategy"
        PROTECTIVE = "protective", "Protective exit (emulated by the desk)"
        OPERATOR = "operator", "A person's request (position close, account flatten)"

    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="signals", null=True, blank=True)
    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="signals")
    market = models.ForeignKey("markets.Market", on_delete=models.PROTECT, related_name="signals")
    candle_time = models.DateTimeField(db_index=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    intent = models.CharField(max_length=5, choices=Intent.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STRATEGY)
    price = models.DecimalField(**MONEY, help_text="The close the strategy saw")
    size = models.DecimalField(max_digits=12, decimal_places=8, null=True, blank=True, help_text="Fraction of the allocation")
    stop_loss = models.DecimalField(**MONEY, null=True, blank=True)
    take_profit = models.DecimalField(**MONEY, null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    indicators = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=80, unique=True, help_text="Deterministic id; the client_order_id derives from it")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    rejection_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-candle_time", "-id"]
        # (strategy, created_at): the signal rate cap counts a strategy's signals of the last minute.
        indexes = [models.Index(fields=["strategy", "created_at"])]

    def __str__(self):
        return f"{self.side} {self.intent} {self.market.symbol} @ {self.price} ({self.status})"


class Order(TimeStampedModel):
    class Type(models.TextChoices):
        MARKET = "market", "Market"
        LIMIT = "limit", "Limit"
        STOP = "stop", "Stop (emulated)"
        # Never sent: the desk's record of what the exchange's balances show happened outside
        # it (holdings reconciliation), with one synthetic fill whose id is the client_order_id.
        ADJUST = "adjust", "Adjustment (holdings reconciliation)"

    STATUS_CHOICES = [(status.value, status.name.replace("_", " ").title()) for status in OrderStatus]

    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.PROTECT, related_name="orders")
    market = models.ForeignKey("markets.Market", on_delete=models.PROTECT, related_name="orders")
    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders")
    signal = models.OneToOneField(Signal, on_delete=models.PROTECT, null=True, blank=True, related_name="order")
    client_order_id = models.CharField(max_length=36, unique=True)
    venue_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=6, choices=Type.choices, default=Type.MARKET)
    reduce_only = models.BooleanField(default=False)
    price = models.DecimalField(**MONEY, null=True, blank=True, help_text="Limit price; the reference price for market orders")
    amount = models.DecimalField(**MONEY)
    filled = models.DecimalField(**MONEY, default=ZERO)
    average_price = models.DecimalField(**MONEY, null=True, blank=True)
    status = models.CharField(max_length=17, choices=STATUS_CHOICES, default=OrderStatus.NEW.value, db_index=True)
    reason = models.TextField(blank=True, help_text="Why it is in its status (the exchange's words on a rejection)")
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    resolve_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        # (account, created_at): the rate caps count an account's orders of the last minute;
        # (account, status): the live orders of an account (exposure, positions opening).
        indexes = [
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["strategy", "created_at"]),
            models.Index(fields=["account", "status"]),
            # the orders page's market filter: has this market an order of the user's accounts?
            # (one probe per market; the market index alone read each market's every order)
            models.Index(fields=["market", "account"]),
        ]
        permissions = [("cancel_order", "Can cancel an order")]

    def __str__(self):
        return f"{self.client_order_id} {self.side} {decimal_text(self.amount)} {self.market.symbol} {self.status}"

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled


class OrderEvent(models.Model):
    """Append-only: every change of an order and its cause."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    from_status = models.CharField(max_length=17, blank=True)
    to_status = models.CharField(max_length=17)
    cause = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.order.client_order_id}: {self.from_status or 'new'} -> {self.to_status} ({self.cause[:60]})"

    def save(self, *args, **kwargs):
        if self.pk:
            raise ValueError("order events are append-only")
        super().save(*args, **kwargs)


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    venue_trade_id = models.CharField(max_length=64)
    price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY, default=ZERO)
    fee_currency = models.CharField(max_length=20, blank=True)
    traded_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "venue_trade_id"], name="fill_once_per_trade")]
        ordering = ["traded_at", "id"]

    def __str__(self):
        return f"{self.amount} @ {self.price} ({self.venue_trade_id})"


def position_is_open(*, amount: Decimal, value: Decimal, step: Decimal, min_notional: Decimal) -> bool:
    """The one definition of an open position: at least one amount step, worth at least the
    market's minimum notional (at the last marked price, else the entry). Less is dust: a fee
    taken in the base asset and an exit rounded down to the step leave some, and the exchange
    refuses to sell it, so it is no position to protect, count or close."""
    return amount > 0 and amount >= step and value >= min_notional


class PositionQuerySet(models.QuerySet):
    """Open / dust in SQL, as `position_is_open` says for one row."""

    def _valued(self):
        return self.annotate(value_marked=F("amount") * Coalesce(F("last_price"), F("average_entry")))

    def open(self):
        return self._valued().filter(
            amount__gt=0, amount__gte=F("market__amount_precision"), value_marked__gte=F("market__min_notional")
        )

    def tradable(self):
        """What an exit can sell: the open positions (dust cannot be sold)."""
        return self.open()

    def dust(self):
        return self.filter(amount__gt=0).exclude(pk__in=self.open().values("pk"))


class Position(TimeStampedModel):
    """One long spot position per account and market. realized_pnl is net of every fee."""

    class PositionSide(models.TextChoices):
        LONG = "long", "Long"

    class Origin(models.TextChoices):
        DESK = "desk", "The desk's"
        EXTERNAL = "external", "Bought outside the desk (no strategy trades it until an admin adopts it)"

    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="positions")
    market = models.ForeignKey("markets.Market", on_delete=models.PROTECT, related_name="positions")
    side = models.CharField(max_length=5, choices=PositionSide.choices, default=PositionSide.LONG)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.DESK)
    strategy = models.ForeignKey(
        "strategies.Strategy", on_delete=models.SET_NULL, null=True, blank=True, related_name="positions"
    )
    amount = models.DecimalField(**MONEY, default=ZERO)
    average_entry = models.DecimalField(**MONEY, default=ZERO)
    realized_pnl = models.DecimalField(**MONEY, default=ZERO)
    unrealized_pnl = models.DecimalField(**MONEY, default=ZERO)
    fees = models.DecimalField(**MONEY, default=ZERO, help_text="Every fee paid, in quote")
    last_price = models.DecimalField(**MONEY, null=True, blank=True)
    # Protective exits, emulated by the desk (the exchange holds no stop orders).
    stop_loss = models.DecimalField(**MONEY, null=True, blank=True)
    take_profit = models.DecimalField(**MONEY, null=True, blank=True)
    trailing_stop_pct = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    high_water = models.DecimalField(**MONEY, null=True, blank=True, help_text="Highest price since entry (trailing stop)")

    objects = PositionQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "market", "side"], name="position_unique")]
        permissions = [("close_position", "Can close a position")]

    def __str__(self):
        return f"{self.side} {self.amount} {self.market.symbol}" + (" (dust)" if self.is_dust else "")

    @property
    def marked_value(self) -> Decimal:
        return self.amount * (self.last_price or self.average_entry)

    @property
    def is_open(self) -> bool:
        return position_is_open(
            amount=self.amount, value=self.marked_value, step=self.market.amount_precision, min_notional=self.market.min_notional
        )

    @property
    def is_dust(self) -> bool:
        return self.amount > 0 and not self.is_open

    @property
    def tradable_amount(self) -> Decimal:
        """What an exit sells: the whole amount held, down to a whole number of steps (none of dust)."""
        if not self.is_open:
            return ZERO
        step = self.market.amount_precision
        return (self.amount // step * step).normalize() if step > 0 else self.amount


class Balance(models.Model):
    """What the account holds per asset: synced from the exchange, or kept by the paper broker."""

    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="balances")
    asset = models.CharField(max_length=20)
    free = models.DecimalField(**MONEY, default=ZERO)
    used = models.DecimalField(**MONEY, default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "asset"], name="balance_unique_asset")]

    def __str__(self):
        return f"{self.asset} {self.free.normalize():f} free, {self.used.normalize():f} used"

    @property
    def total(self) -> Decimal:
        return self.free + self.used


class HoldingsBaseline(models.Model):
    """What the account held of an asset before (and besides) the desk: the exchange's balance
    minus this is what the desk's positions must add up to. Set by the first holdings
    reconciliation of the account; an admin may correct it (audited)."""

    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="holdings_baselines")
    asset = models.CharField(max_length=20)
    amount = models.DecimalField(**MONEY, default=ZERO, help_text="Held outside the desk (external holdings)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "asset"], name="holdings_baseline_unique_asset")]

    def __str__(self):
        return f"{self.asset} {decimal_text(self.amount)} held outside the desk"


class HoldingsState(models.Model):
    """Where the holdings reconciliation of one account stands: the start gate and the failures."""

    account = models.OneToOneField("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="holdings_state")
    baseline_set_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True, help_text="Start of the last full reconciliation")
    gate_closed_at = models.DateTimeField(null=True, blank=True, help_text="A worker started: entries wait for a reconciliation")
    gate_reason = models.CharField(max_length=200, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_alerted = models.BooleanField(default=False, help_text="This episode's critical alert is recorded")
    last_error = models.TextField(blank=True)

    def __str__(self):
        return f"holdings of account {self.account_id}"


class LastPrice(models.Model):
    """The newest traded price we saw per market (ticker poll or candle close)."""

    market = models.OneToOneField("markets.Market", on_delete=models.CASCADE, related_name="last_price")
    price = models.DecimalField(**MONEY)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.market.symbol} {decimal_text(self.price, self.market.price_precision)} at {self.at:%Y-%m-%d %H:%M:%S} UTC"


class PaperSettings(models.Model):
    """How the paper broker fills an account's orders."""

    account = models.OneToOneField("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="paper_settings")
    fee_rate = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal("0.001"), help_text="0.001 = 0.1%")
    slippage_bps = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("5"),
        help_text="Market orders fill this many basis points worse than the last price",
    )

    class Meta:
        verbose_name_plural = "paper settings"

    def __str__(self):
        return f"paper fills for account {self.account_id}: fee {self.fee_rate.normalize():f}, slippage {self.slippage_bps.normalize():f} bps"


class PortfolioSnapshot(models.Model):
    account = models.ForeignKey("exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(db_index=True)
    equity = models.DecimalField(**MONEY)
    cash = models.DecimalField(**MONEY)
    positions_value = models.DecimalField(**MONEY)
    realized_pnl = models.DecimalField(**MONEY)
    unrealized_pnl = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["-taken_at"]
        # Read under the account lock before every placement: the peak and today's first.
        indexes = [models.Index(fields=["account", "-equity"]), models.Index(fields=["account", "taken_at"])]

    def __str__(self):
        return f"account {self.account_id} at {self.taken_at:%Y-%m-%d %H:%M} UTC: equity {self.equity.normalize():f}"
