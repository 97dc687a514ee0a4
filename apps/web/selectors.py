"""Reads for the web layer."""

import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

from apps.exchanges.clients import ccxt_client_build
from apps.exchanges.selectors import accounts_visible_to
from apps.markets.models import Exchange

CHECK_TIMEOUT_S = 2


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), "detail": detail or ""}
    except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
        return {"ok": False, "ms": round((time.perf_counter() - started) * 1000, 1), "detail": f"{type(exc).__name__}: {exc}"}


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _check_broker():
    from tradedesk.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type


def _check_channel_layer():
    layer = get_channel_layer()
    async_to_sync(layer.send)("health.check", {"type": "health.ping"})
    return type(layer).__name__


def _check_exchanges():
    """Every exchange the desk collects from or trades on answers its time endpoint."""
    exchanges = Exchange.objects.filter(markets__active=True).distinct()
    reached = []
    for exchange in exchanges:
        client = ccxt_client_build(ccxt_id=exchange.ccxt_id, base_url=exchange.api_url)
        client.timeout = CHECK_TIMEOUT_S * 1000
        client.fetch_time()
        reached.append(exchange.code)
    return ", ".join(reached) or "no active markets"


def readiness_checks() -> dict[str, dict]:
    return {
        "database": _timed(_check_database),
        "broker": _timed(_check_broker),
        "channel_layer": _timed(_check_channel_layer),
        "exchange": _timed(_check_exchanges),
    }


# --- Page data: markets, candles, collector freshness, missed events ------------------

from dataclasses import dataclass  # noqa: E402

from django.db.models import Max  # noqa: E402

from apps.common.events import events_since, topic_parse, topic_shapes  # noqa: E402
from apps.common.models import Event  # noqa: E402
from apps.markets.models import Candle, CollectorStatus, Market  # noqa: E402

CANDLE_LIMIT_MAX = 5000


def market_by_ref(*, ref: str) -> Market | None:
    """A market named by its id ("3") or its slug ("BTC-USDT"; the first exchange wins on a tie)."""
    markets = Market.objects.select_related("exchange")
    if ref.isdigit():
        return markets.filter(pk=int(ref)).first()
    return markets.filter(symbol=ref.replace("-", "/").upper()).order_by("exchange__code").first()


def markets_overview() -> list[dict]:
    """Every active market with its newest 1m close and the state of its collectors."""
    rows = []
    markets = Market.objects.filter(active=True).select_related("exchange").prefetch_related("collectors")
    for market in markets:
        last = Candle.objects.filter(market=market).order_by("-open_time").values("close", "open_time").first()
        rows.append(
            {
                "market": market,
                "last_close": last["close"] if last else None,
                "last_time": last["open_time"] if last else None,
                "collectors": [collector_summary(status) for status in market.collectors.all()],
            }
        )
    return rows


def candles_recent(*, market: Market, timeframe: str, limit: int = 500) -> list[Candle]:
    """The newest `limit` closed candles, oldest first (as a chart draws them)."""
    limit = max(1, min(limit, CANDLE_LIMIT_MAX))
    newest = Candle.objects.filter(market=market, timeframe=timeframe).order_by("-open_time")[:limit]
    return list(reversed(newest))


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


@dataclass(frozen=True)
class TopicsDecision:
    allowed: list[str]
    refusals: list[str]  # one sentence per refused topic, for the page


def topics_authorize(*, user, topics: list[str]) -> TopicsDecision:
    """Which topics the user may subscribe to: those every user may see, and those of the
    accounts the user is a member of (superusers: every account). A name of no known shape
    is refused too."""
    matches = {topic: topic_parse(topic) for topic in topics}
    wanted = {match.account_id for match in matches.values() if match and match.account_id is not None}
    visible = set(accounts_visible_to(user=user).filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()
    allowed, refusals = [], []
    for topic, match in matches.items():
        if match is None:
            refusals.append(f"Unknown topic {topic!r}; topics look like {topic_shapes()}.")
        elif match.account_id is not None and match.account_id not in visible:
            refusals.append(f"You are not a member of account {match.account_id}; topic {topic} refused.")
        else:
            allowed.append(topic)
    return TopicsDecision(allowed=allowed, refusals=refusals)
