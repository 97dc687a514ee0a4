"""Reads for the cockpit pages (desk, positions, orders, signals, risk, strategy, performance).

Everything is scoped by membership (`accounts_visible_to`, `account_scoped`): a user never
reads another account's rows, and an id outside their accounts is simply not found. Numbers
leave here exact (Decimal); the templates format them (apps.web.templatetags.desk).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.alerts.selectors import alerts_unacknowledged, alerts_visible
from apps.common.events import CANDLES, ORDERS, PORTFOLIO, POSITIONS, RISK, RISK_DESK, SIGNALS, STRATEGIES
from apps.engine.order_fsm import LIVE
from apps.exchanges.roles import Role, user_has_role
from apps.exchanges.selectors import account_scoped, accounts_visible_to
from apps.markets.models import CollectorStatus
from apps.markets.selectors import collectors_stale
from apps.risk.models import KillSwitch, RiskEvent
from apps.risk.services import kill_switch_banner
from apps.strategies.models import Strategy
from apps.trading.holdings_gate import gate_banners
from apps.trading.models import Order, OrderEvent, PortfolioSnapshot, Position, Signal

ZERO = Decimal(0)
ORDERS_PAGE = 100
# The pages never show an account's keys; loading them would decrypt two secrets per row shown.
SECRETS = ("api_key", "api_secret")
ACCOUNT_SECRETS = tuple(f"account__{name}" for name in SECRETS)
# What the positions tables show and total: a row is four models, and loading all their
# columns (a strategy's params, an account's settings) was a third of the page's time.
POSITION_COLUMNS = (
    *("side", "origin", "amount", "average_entry", "realized_pnl", "unrealized_pnl", "fees", "last_price"),
    *("stop_loss", "take_profit", "trailing_stop_pct", "created_at", "updated_at"),
    *("account__name", "strategy__name", "market__last_price__price"),
    *("market__symbol", "market__base", "market__price_precision", "market__amount_precision"),
)
# What the orders tables show (and the slippage and latency read): not the signal's indicators,
# the strategy's params or the events' data.
ORDER_COLUMNS = (
    *("client_order_id", "side", "type", "amount", "price", "filled", "average_price", "status", "reason"),
    *("created_at", "signal__created_at", "account__name", "strategy__name"),
    *("market__symbol", "market__base", "market__price_precision", "market__amount_precision"),
)
SIGNALS_PAGE = 100
RISK_PAGE = 200
ACKNOWLEDGED_STATES = ("open", "partially_filled", "filled")  # the exchange has booked the order


# --- Who may do what, and what a page listens to ------------------------------------------


def can_trade(user) -> bool:
    """Action buttons are drawn for traders only; the services refuse anyone else anyway."""
    return user_has_role(user, Role.TRADER)


def live_topics(*, user, topics=(ORDERS, POSITIONS, RISK, SIGNALS, STRATEGIES, PORTFOLIO)) -> list[str]:
    """The account topics of the user's accounts (those the socket will accept), plus the
    desk-wide risk topic every page listens to for the kill switch banner."""
    accounts = list(accounts_visible_to(user=user).values_list("pk", flat=True))
    return [RISK_DESK.name(), *(topic.name(account=account) for topic in topics for account in accounts)]


# --- The desk's state: banners on every page ------------------------------------------------


@dataclass(frozen=True)
class Banner:
    level: str  # halted | reduce | stale | reconciling
    text: str
    key: str = ""  # switch-<account id> | switch-global: a page redraws it from kill_switch.changed


def desk_state(*, user) -> dict:
    """The banners every page shows (kill switches not ACTIVE, stale collectors) and the
    counts of unacknowledged risk events and alerts on the user's accounts and the desk."""
    banners = []
    switches = account_scoped(KillSwitch.objects.exclude(state="active"), user=user, shared_rows=True)
    for switch in switches.select_related("account").defer(*ACCOUNT_SECRETS).order_by("account_id"):
        key = f"switch-{switch.account_id or 'global'}"
        banners.append(Banner("halted" if switch.state == "halted" else "reduce", kill_switch_banner(switch), key))
    stale, stale_count = collectors_stale(limit=5)
    if stale:
        more = f" and {stale_count - 5} more" if stale_count > 5 else ""
        banners.append(Banner("stale", f"Market data stale: {', '.join(stale)}{more} (no new candle for two periods)"))
    accounts = accounts_visible_to(user=user).values_list("pk", flat=True)
    banners += [Banner("reconciling", text) for text in gate_banners(account_ids=accounts)]
    return {
        "banners": banners,
        "risk_unacknowledged": risk_events_unacknowledged(user=user).count(),
        "alerts_unacknowledged": alerts_unacknowledged(user=user).count(),
    }


def risk_events_visible(*, user):
    """Risk events of the user's accounts, and the desk-wide ones (no account)."""
    return account_scoped(RiskEvent.objects.all(), user=user, shared_rows=True)


def risk_events_unacknowledged(*, user):
    """Allowed decisions are routine; rejections and actions wait for a person."""
    return risk_events_visible(user=user).filter(acknowledged_at__isnull=True).exclude(decision=RiskEvent.Decision.ALLOWED)


# --- Desk overview ----------------------------------------------------------------------------


def day_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


def accounts_equity(*, user, now: datetime | None = None) -> list[dict]:
    """Per account: the newest equity and today's P&L (newest equity minus the equity of the
    last snapshot taken before today's UTC midnight, or today's first when none is older)."""
    start = day_start(now)
    snapshots = PortfolioSnapshot.objects.filter(account=OuterRef("pk"))
    newest = snapshots.order_by("-taken_at")
    opening = Coalesce(  # each one row by the (account, taken_at) index: one query for all the accounts
        Subquery(snapshots.filter(taken_at__lt=start).order_by("-taken_at").values("equity")[:1]),
        Subquery(snapshots.filter(taken_at__gte=start).order_by("taken_at").values("equity")[:1]),
    )
    accounts = (
        accounts_visible_to(user=user)
        .select_related("exchange")
        .defer(*SECRETS)
        .annotate(
            equity_newest=Subquery(newest.values("equity")[:1]),
            equity_newest_at=Subquery(newest.values("taken_at")[:1]),
            equity_opening=opening,
        )
        .order_by("name")
    )
    rows = []
    for account in accounts:
        equity, opening_equity = account.equity_newest, account.equity_opening
        today = equity - opening_equity if equity is not None and opening_equity is not None else None
        rows.append(
            {
                "account": account,
                "equity": equity,
                "equity_at": account.equity_newest_at,
                "today_pnl": today,
                "today_pct": (today / opening_equity * 100) if today is not None and opening_equity else None,
            }
        )
    return rows


def equity_totals(rows: list[dict]) -> dict:
    known = [row for row in rows if row["equity"] is not None]
    return {
        "equity": sum((row["equity"] for row in known), ZERO) if known else None,
        "today_pnl": sum((row["today_pnl"] or ZERO for row in known), ZERO) if known else None,
    }


def strategies_running(*, user) -> list[Strategy]:
    strategies = account_scoped(Strategy.objects.filter(status=Strategy.Status.RUNNING), user=user)
    return list(strategies.select_related("account").defer(*ACCOUNT_SECRETS).prefetch_related("markets").order_by("name"))


def collectors_freshness() -> list[CollectorStatus]:
    return list(CollectorStatus.objects.select_related("market__exchange").order_by("market__symbol", "timeframe"))


# --- Positions -------------------------------------------------------------------------------


def positions(*, user, closed: bool = False, account_id: int | None = None) -> list[Position]:
    """Open positions (the one definition: at least a step worth the minimum notional), or the
    closed ones (nothing left, or only dust), newest change first."""
    queryset = account_scoped(Position.objects.all(), user=user)
    queryset = queryset.exclude(pk__in=Position.objects.open().values("pk")) if closed else queryset.open()
    if account_id:
        queryset = queryset.filter(account_id=account_id)
    if closed:  # how it was closed: an adjustment of the holdings reconciliation says external_close
        last = Order.objects.filter(account=OuterRef("account"), market=OuterRef("market")).order_by("-id")
        queryset = queryset.annotate(
            closed_by=Subquery(last.values("type")[:1]), closed_reason=Subquery(last.values("reason")[:1])
        )
    found = list(
        queryset.select_related("account", "market", "strategy", "market__last_price")
        .only(*POSITION_COLUMNS)
        .order_by("-updated_at")[:500]
    )
    for position in found:
        position.closed_outside = getattr(position, "closed_by", None) == Order.Type.ADJUST and (
            position.closed_reason or ""
        ).startswith("external_close")
        position.mark = _mark_price(position)
        position.unrealized_now = (
            (position.mark - position.average_entry) * position.amount if position.mark else position.unrealized_pnl
        )
        cost = position.average_entry * position.amount
        position.unrealized_pct = position.unrealized_now / cost * 100 if cost else None
    return found


def _mark_price(position: Position) -> Decimal | None:
    """The newest price the desk has for the market (ticker), else the position's own."""
    last = getattr(position.market, "last_price", None)
    return last.price if last is not None else position.last_price


def positions_totals(found: list[Position]) -> dict:
    return {
        "unrealized": sum((p.unrealized_now for p in found), ZERO),
        "realized": sum((p.realized_pnl for p in found), ZERO),
        "fees": sum((p.fees for p in found), ZERO),
        "count": len(found),
    }


# --- Orders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    status: str = ""
    account: int | None = None
    market: int | None = None
    strategy: int | None = None
    day: date | None = None


def orders(*, user, filters: OrderFilters, limit: int = ORDERS_PAGE) -> list[Order]:
    queryset = account_scoped(Order.objects.all(), user=user)
    if filters.status == "live":
        queryset = queryset.filter(status__in=[status.value for status in LIVE])
    elif filters.status:
        queryset = queryset.filter(status=filters.status)
    for name in ("account", "market", "strategy"):
        if getattr(filters, name):
            queryset = queryset.filter(**{f"{name}_id": getattr(filters, name)})
    if filters.day:
        start = datetime.combine(filters.day, time.min, tzinfo=UTC)
        queryset = queryset.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
    events = OrderEvent.objects.only("order_id", "created_at", "from_status", "to_status", "cause").order_by("id")
    found = list(
        queryset.select_related("account", "market", "strategy", "signal")
        .only(*ORDER_COLUMNS)
        .prefetch_related(Prefetch("events", queryset=events, to_attr="event_log"))  # a list: no manager per row
        .order_by("-created_at", "-id")[:limit]
    )
    for order in found:
        order.slippage, order.slippage_pct = order_slippage(order)
        order.latency_ms = order_latency_ms(order)
        order.cancelable = order.status in ("new", "open", "partially_filled")
    return found


def order_slippage(order: Order) -> tuple[Decimal | None, Decimal | None]:
    """What the fill cost against the reference price, in quote and %: positive is worse for
    us (bought dearer or sold cheaper than asked)."""
    if not order.price or order.average_price is None or not order.filled:
        return None, None
    direction = 1 if order.side == "buy" else -1
    per_unit = (order.average_price - order.price) * direction
    return per_unit * order.filled, per_unit / order.price * 100


def order_latency_ms(order: Order) -> int | None:
    """From the signal (or the order's creation, for a hand-placed order) to the exchange's
    acknowledgement: the first event into a booked state (`event_log`: its events by id)."""
    acknowledged = next((event for event in order.event_log if event.to_status in ACKNOWLEDGED_STATES), None)
    if acknowledged is None:
        return None
    start = order.signal.created_at if order.signal_id else order.created_at
    return int((acknowledged.created_at - start).total_seconds() * 1000)


def order_filter_choices(*, user) -> dict:
    from apps.markets.models import Market

    # the dropdowns show a name: only it is read (an account's keys would be decrypted)
    accounts = list(accounts_visible_to(user=user).only("pk", "name").order_by("name"))
    ids = [account.pk for account in accounts]
    # EXISTS per market: the (market, account) index finds one order of the user's accounts and
    # stops, where `pk IN (every order's market)` would read all the orders. The account ids go
    # in as values: as a subquery PostgreSQL read every order of each market to match them.
    traded = Exists(Order.objects.filter(market=OuterRef("pk"), account_id__in=ids))
    return {
        "accounts": accounts,
        "strategies": list(Strategy.objects.filter(account_id__in=ids).only("pk", "name").order_by("name")),
        "markets": list(Market.objects.filter(traded).only("pk", "symbol").order_by("symbol")),
        "statuses": [("live", "Live (working)"), *Order._meta.get_field("status").choices],
    }


def order_status_counts(*, user) -> dict[str, int]:
    """How many orders are working, per live status (the (account, status) index answers it).
    Finished orders are the history: counting them would read every order the desk ever sent."""
    from django.db.models import Count

    live = account_scoped(Order.objects.filter(status__in=[status.value for status in LIVE]), user=user)
    rows = live.order_by().values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


# --- Signals ---------------------------------------------------------------------------------


def signals(*, user, strategy_id: int | None = None, limit: int = SIGNALS_PAGE) -> list[Signal]:
    queryset = account_scoped(Signal.objects.all(), user=user)
    if strategy_id:
        queryset = queryset.filter(strategy_id=strategy_id)
    found = list(
        queryset.select_related("strategy", "market", "account", "order")
        .defer(*ACCOUNT_SECRETS)
        .prefetch_related(Prefetch("risk_events", queryset=RiskEvent.objects.order_by("-id")))
        .order_by("-created_at", "-id")[:limit]
    )
    for signal in found:
        signal.decision = next(iter(signal.risk_events.all()), None)
        signal.placed_order = getattr(signal, "order", None) if _has_order(signal) else None
    return found


def _has_order(signal: Signal) -> bool:
    try:
        return signal.order is not None
    except Order.DoesNotExist:
        return False


# --- Risk ------------------------------------------------------------------------------------


def risk_events(*, user, limit: int = RISK_PAGE) -> list[RiskEvent]:
    return list(
        risk_events_visible(user=user)
        .exclude(decision=RiskEvent.Decision.ALLOWED)
        .select_related("account", "strategy", "acknowledged_by")
        .order_by("-id")[:limit]
    )


def alerts(*, user, limit: int = RISK_PAGE) -> list:
    """The newest alerts of the user's accounts and the desk, with their deliveries."""
    return list(alerts_visible(user=user).order_by("-id")[:limit])


def kill_switches(*, user) -> dict:
    """The global switch and one per visible account (ACTIVE when never set)."""
    accounts = list(accounts_visible_to(user=user).select_related("kill_switch", "risk_limits").defer(*SECRETS).order_by("name"))
    global_switch = KillSwitch.objects.filter(account__isnull=True).first()
    return {
        "global": global_switch.state if global_switch else "active",
        "global_reason": global_switch.reason if global_switch else "",
        "accounts": [
            {"account": account, "state": _switch_of(account), "limits": getattr(account, "risk_limits", None)}
            for account in accounts
        ],
    }


def _switch_of(account) -> str:
    try:
        return account.kill_switch.state
    except KillSwitch.DoesNotExist:
        return "active"


# --- One strategy ----------------------------------------------------------------------------


def strategy_for(*, user, strategy_id: int) -> Strategy | None:
    return (
        account_scoped(Strategy.objects.all(), user=user)
        .select_related("account")
        .prefetch_related("markets")
        .filter(pk=strategy_id)
        .first()
    )


# --- Market data: the collectors ---------------------------------------------------------------

AMBER_PERIODS = 2  # fresh below this many periods of age (CollectorStatus.is_fresh)
RED_PERIODS = 10  # from here the data is too old to trade on: red


@dataclass(frozen=True)
class CollectorHealth:
    collector: CollectorStatus
    level: str  # fresh | amber | red | off
    age: timedelta | None  # since the newest stored candle closed
    candles: int  # stored, counted
    gaps: int  # missing runs in the repair window
    missing: int  # candles in those runs


def collectors_health(*, now: datetime | None = None) -> list[CollectorHealth]:
    """Every collector with its freshness level, its stored candles and the gaps the collector
    would repair (the last two days)."""
    from django.db.models import Count

    from apps.markets.models import Candle
    from apps.markets.selectors import candle_gaps
    from apps.markets.services import GAP_REPAIR_LOOKBACK

    now = now or timezone.now()
    counts = {
        (row["market_id"], row["timeframe"]): row["n"]
        for row in Candle.objects.order_by().values("market_id", "timeframe").annotate(n=Count("pk"))
    }
    rows = []
    for collector in CollectorStatus.objects.select_related("market__exchange").order_by("market__symbol", "timeframe"):
        runs = list(candle_gaps(collector=collector, lookback=GAP_REPAIR_LOOKBACK, now=now))
        rows.append(
            CollectorHealth(
                collector=collector,
                level=freshness_level(collector, now),
                age=collector.data_age(now),
                candles=counts.get((collector.market_id, collector.timeframe), 0),
                gaps=len(runs),
                missing=sum(int((end - start) / collector.period) for start, end in runs),
            )
        )
    return rows


def freshness_level(collector: CollectorStatus, now: datetime) -> str:
    if not collector.active:
        return "off"
    age = collector.data_age(now)
    if age is None or age >= RED_PERIODS * collector.period:
        return "red"
    return "fresh" if age < AMBER_PERIODS * collector.period else "amber"


# --- One strategy's chart: its signals and trades as markers -----------------------------------

CHART_SIGNALS = 300


def strategy_chart(*, strategy: Strategy) -> dict:
    """What the strategy page draws on its first market's candles: a marker per signal (entry,
    exit, stop, target; refused ones too) with the indicator values that justified it, and the
    stop and target of the position it holds."""
    from apps.engine.timeframes import TIMEFRAME_SECONDS

    market = strategy.markets.order_by("symbol").first()
    if market is None:
        return {}
    period = TIMEFRAME_SECONDS[strategy.timeframe]
    found = Signal.objects.filter(strategy=strategy, market=market).select_related("order").order_by("-candle_time", "-id")
    markers = [_marker(signal, period) for signal in reversed(found[:CHART_SIGNALS])]
    position = Position.objects.filter(account=strategy.account, market=market).open().first()
    return {
        "marketId": market.pk,
        "symbol": market.symbol,
        "timeframe": strategy.timeframe,
        "candlesUrl": f"/api/markets/{market.pk}/candles?tf={strategy.timeframe}&limit=500",
        "topic": CANDLES.name(market=market.slug, tf=strategy.timeframe),
        "priceDecimals": max(0, -market.price_precision.normalize().as_tuple().exponent),
        "markers": markers,
        "levels": {
            "stop": str(position.stop_loss) if position and position.stop_loss else None,
            "target": str(position.take_profit) if position and position.take_profit else None,
        },
    }


def _marker(signal: Signal, period: int) -> dict:
    seconds = int(signal.candle_time.timestamp())
    return {
        "id": signal.pk,
        "time": seconds - seconds % period,  # on its candle
        "kind": signal_kind(signal),
        "side": signal.side,
        "price": str(signal.price),
        "status": signal.status,
        "reason": signal.rejection_reason or signal.reason,
        "indicators": signal.indicators or {},
        "at": signal.created_at.isoformat(),
    }


def signal_kind(signal: Signal) -> str:
    """entry | exit | stop | target: a protective exit says which level it hit."""
    if signal.intent == Signal.Intent.OPEN:
        return "entry"
    if signal.source == Signal.Source.PROTECTIVE:
        return "target" if "take-profit" in signal.reason else "stop"
    return "exit"
