"""Reads for the web pages: markets, candles, collector freshness, missed events."""

from dataclasses import dataclass

from django.db.models import Count, IntegerField, Max, OuterRef, Prefetch, Subquery

from apps.common.events import events_since, topic_parse, topic_shapes
from apps.common.models import Event
from apps.engine.display import decimal_text
from apps.exchanges.roles import Role, user_has_role
from apps.exchanges.selectors import accounts_visible_to
from apps.markets.models import Candle, CollectorStatus, Market
from apps.risk.models import KillSwitch
from apps.strategies.models import Strategy
from apps.trading.models import PortfolioSnapshot

CANDLE_LIMIT_MAX = 5000


def market_by_ref(*, ref: str) -> Market | None:
    """A market named by its id ("3") or its slug ("BTC-USDT"; the first exchange wins on a tie)."""
    markets = Market.objects.select_related("exchange")
    if ref.isdigit():
        return markets.filter(pk=int(ref)).first()
    return markets.filter(symbol=ref.replace("-", "/").upper()).order_by("exchange__code").first()


def markets_overview() -> list[dict]:
    """Every active market with its newest close and the state of its collectors. The newest
    candle is the one its freshest collector last stored: all of them read in one query by the
    unique (market, timeframe, open time) index, whatever the number of markets and candles."""
    # in the order they were made: a pill keeps its place as collectors store candles
    collectors = Prefetch("collectors", queryset=CollectorStatus.objects.only("market_id", *COLLECTOR_COLUMNS).order_by("pk"))
    markets = list(
        Market.objects.filter(active=True)
        .select_related("exchange")
        .only("symbol", "price_precision", "exchange__name", "exchange__code")
        .prefetch_related(collectors)
    )
    newest = _newest_candles(markets)
    rows = []
    for market in markets:
        last = newest.get(market.pk)
        rows.append(
            {
                "market": market,
                "last_close": decimal_text(last["close"], market.price_precision) if last else None,
                "last_time": last["open_time"] if last else None,
                "collectors": [collector_summary(status) for status in market.collectors.all()],
            }
        )
    return rows


def _newest_candles(markets: list[Market]) -> dict[int, dict]:
    """market id -> {close, open_time} of its newest candle, per its collectors' last candle time;
    a market no collector has stored for (imported data) is looked up by itself."""
    wanted, unknown = {}, []
    for market in markets:
        stored = [status for status in market.collectors.all() if status.last_candle_time]
        if not stored:
            unknown.append(market)
            continue
        freshest = max(stored, key=lambda status: status.last_candle_time)
        wanted[(market.pk, freshest.timeframe, freshest.last_candle_time)] = market.pk
    newest = {}
    if wanted:  # collectors close their candles together: few distinct times, one index scan
        markets_, timeframes, times = (set(values) for values in zip(*wanted, strict=True))
        rows = Candle.objects.filter(market_id__in=markets_, timeframe__in=timeframes, open_time__in=times)
        for row in rows.values("market_id", "timeframe", "open_time", "close"):
            if (row["market_id"], row["timeframe"], row["open_time"]) in wanted:
                newest[row["market_id"]] = row
    for market in unknown:
        last = Candle.objects.filter(market=market).order_by("-open_time").values("market_id", "close", "open_time").first()
        if last:
            newest[market.pk] = last
    return newest


# What a collector's summary reads (a row also holds its error counts and history, unread here)
COLLECTOR_COLUMNS = (
    *("timeframe", "active", "last_candle_time", "last_success_at"),
    *("last_error", "last_error_at", "consecutive_errors"),
)


def collector_summary(status: CollectorStatus | None) -> dict | None:
    if status is None:
        return None
    age = status.data_age()
    return {
        "timeframe": status.timeframe,
        "active": status.active,
        "fresh": status.is_fresh(),
        "last_candle_time": status.last_candle_time,
        "last_success_at": status.last_success_at,
        "data_age_seconds": int(age.total_seconds()) if age is not None else None,
        "last_error": status.last_error[:200],
        "last_error_at": status.last_error_at,
        "consecutive_errors": status.consecutive_errors,
    }


def collector_for(*, market: Market, timeframe: str) -> dict | None:
    return collector_summary(CollectorStatus.objects.filter(market=market, timeframe=timeframe).first())


def event_last_id() -> int:
    """The newest outbox id (0 when empty): where a live reader starts."""
    return Event.objects.aggregate(last=Max("id"))["last"] or 0


@dataclass(frozen=True)
class MissedEvents:
    events: list[Event]
    truncated: bool  # more were missed than we resend: the page must reload its history
    last_id: int  # where the socket's live stream continues from


def events_missed(*, user, topics: list[str], since: int, limit: int = 5000) -> MissedEvents:
    """Events on those of `topics` the user may see, after `since`, for a page that
    reconnects; bounded by `limit`."""
    found = events_since(last_id=since, topics=topics_authorize(user=user, topics=topics).allowed, limit=limit + 1)
    if len(found) > limit:
        return MissedEvents(events=[], truncated=True, last_id=event_last_id())
    return MissedEvents(events=found, truncated=False, last_id=found[-1].id if found else since)


# --- Accounts: a member's only -----------------------------------------------------------


def accounts_overview(*, user) -> list:
    """The user's accounts (membership; superusers all) with their newest equity, kill switch
    and running strategies. Another account's figures are never read, let alone shown."""
    newest = PortfolioSnapshot.objects.filter(account=OuterRef("pk")).order_by("-taken_at")
    running = (
        Strategy.objects.filter(account=OuterRef("pk"), status=Strategy.Status.RUNNING)
        .order_by()
        .values("account")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        accounts_visible_to(user=user)
        .select_related("exchange")
        .annotate(
            equity=Subquery(newest.values("equity")[:1]),
            equity_at=Subquery(newest.values("taken_at")[:1]),
            kill_state=Subquery(KillSwitch.objects.filter(account=OuterRef("pk")).values("state")[:1]),
            strategies_running=Subquery(running, output_field=IntegerField()),
        )
        .order_by("name")
    )


@dataclass(frozen=True)
class TopicsDecision:
    allowed: list[str]
    refusals: list[str]  # one sentence per refused topic, for the page


def topics_authorize(*, user, topics: list[str]) -> TopicsDecision:
    """Which topics the user may subscribe to: those every user may see, those of the accounts
    the user is a member of (superusers: every account), the user's own, and the administrators'
    to an administrator. A name of no known shape is refused too."""
    matches = {topic: topic_parse(topic) for topic in topics}
    wanted = {match.account_id for match in matches.values() if match and match.account_id is not None}
    visible = set(accounts_visible_to(user=user).filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()
    allowed, refusals = [], []
    for topic, match in matches.items():
        if match is None:
            refusals.append(f"Unknown topic {topic!r}; topics look like {topic_shapes()}.")
        elif match.account_id is not None and match.account_id not in visible:
            refusals.append(f"You are not a member of account {match.account_id}; topic {topic} refused.")
        elif match.user_id is not None and match.user_id != getattr(user, "pk", None):
            refusals.append(f"Topic {topic} is another user's own; refused.")
        elif match.admins_only and not user_has_role(user, Role.ADMIN):
            refusals.append(f"Topic {topic} is the administrators'; refused.")
        else:
            allowed.append(topic)
    return TopicsDecision(allowed=allowed, refusals=refusals)
