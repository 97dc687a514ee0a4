"""The event catalogue and the outbox.

Every event the desk records is declared once below: its kind (what happened, past tense),
the topic it goes to (a template such as `orders.<account>`), the fields of its payload, and
through the topic who may see it. One function builds an event from the catalogue:

    event_record("fill.applied", payload, account=order.account_id)

It refuses (EventNotDeclared / EventMismatch) a kind that is not declared, a payload with a
field missing or one too many, and a topic value of the wrong shape: a mistake fails the
first test that records the event instead of reaching the pages as a silent drift.

Who may see a topic is data, not code: an ACCOUNT topic names its account (`orders.7`), and
the surfaces (socket, pages) ask the membership selectors whether the user is a member.

To add an event: declare its kind in KINDS (and its topic in TOPICS if it is a new one).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from django.db import transaction

from apps.common.bulk import rows_write, unsaved
from apps.common.models import Event

# PostgreSQL delivers a NOTIFY on this channel when the transaction that recorded events
# commits (never before, never for a rollback): the relay wakes on it instead of waiting for its
# next poll (apps/web/relay.py). Notifications of one transaction fold into one.
OUTBOX_CHANNEL = "tradedesk_outbox"


class EventNotDeclared(LookupError):
    """A kind or a topic that the catalogue does not declare."""


class EventMismatch(ValueError):
    """An event that does not match its declaration (payload fields, topic values)."""


class Audience(StrEnum):
    EVERYONE = "everyone"  # any logged-in user: market data, desk-wide state
    ACCOUNT = "account"  # the members of the account the topic names (superusers see all)
    OWNER = "owner"  # the one user the topic names (their own work: backtest jobs)
    ADMIN = "admin"  # the desk's administrators (role admin; superusers): research of no account


# What each topic value looks like: a topic is also a Channels group name, so no dots inside.
PARAM_PATTERNS = {
    "account": r"[1-9][0-9]*",
    "user": r"[1-9][0-9]*",
    "market": r"[A-Za-z0-9][A-Za-z0-9_:-]*",  # a market slug, BTC-USDT
    "tf": r"[1-9][0-9]*[smhdwM]",
}
ID_PARAMS = frozenset({"account", "user"})
_PARAM = re.compile(r"<([a-z_]+)>")


@dataclass(frozen=True)
class Topic:
    template: str  # "orders.<account>": literal parts and <param>s, see PARAM_PATTERNS
    audience: Audience
    params: frozenset[str] = field(init=False)
    _format: str = field(init=False, repr=False)
    _regex: re.Pattern = field(init=False, repr=False)

    def __post_init__(self):
        names = _PARAM.findall(self.template)
        unknown = set(names) - PARAM_PATTERNS.keys()
        assert not unknown, f"{self.template}: no pattern for {sorted(unknown)}"
        assert (self.audience == Audience.ACCOUNT) == ("account" in names), f"{self.template}: ACCOUNT topics name the account"
        assert (self.audience == Audience.OWNER) == ("user" in names), f"{self.template}: OWNER topics name the user"
        literal = _PARAM.split(self.template)[::2]
        pattern = "".join(
            re.escape(part) + (f"(?P<{name}>{PARAM_PATTERNS[name]})" if name else "")
            for part, name in zip(literal, [*names, None], strict=True)
        )
        object.__setattr__(self, "params", frozenset(names))
        object.__setattr__(self, "_format", _PARAM.sub(r"{\1}", self.template))
        object.__setattr__(self, "_regex", re.compile(pattern))

    def name(self, **values) -> str:
        """The topic for these values: CANDLES.name(market="BTC-USDT", tf="1m")."""
        if values.keys() != self.params:
            raise EventMismatch(f"topic {self.template} takes {sorted(self.params)}, got {sorted(values)}")
        for param, value in values.items():
            if isinstance(value, bool) or (param in ID_PARAMS) != isinstance(value, int):
                raise EventMismatch(
                    f"topic {self.template}: {param}={value!r} is not a{'n id' if param in ID_PARAMS else ' name'}"
                )
        topic = self._format.format(**values)
        if not self._regex.fullmatch(topic):
            raise EventMismatch(f"topic {self.template}: {values} does not give a valid topic name ({topic!r})")
        return topic

    def values(self, topic: str) -> dict | None:
        """The values of a topic name of this shape (the account as an int), or None."""
        found = self._regex.fullmatch(topic)
        if found is None:
            return None
        values = found.groupdict()
        for name in ID_PARAMS & values.keys():
            values[name] = int(values[name])
        return values


@dataclass(frozen=True)
class EventKind:
    name: str  # past tense: order.filled
    topics: tuple[Topic, ...]  # usually one; an event goes to the one whose values the caller gives
    fields: frozenset[str]  # the payload's fields, all of them, no other

    def __post_init__(self):
        assert len(self.name) <= Event._meta.get_field("kind").max_length, self.name


# --- The catalogue ------------------------------------------------------------------------

CANDLES = Topic("candles.<market>.<tf>", Audience.EVERYONE)
ORDERS = Topic("orders.<account>", Audience.ACCOUNT)  # orders and their fills
POSITIONS = Topic("positions.<account>", Audience.ACCOUNT)
SIGNALS = Topic("signals.<account>", Audience.ACCOUNT)
RISK = Topic("risk.<account>", Audience.ACCOUNT)
RISK_DESK = Topic("risk.global", Audience.EVERYONE)  # the desk-wide kill switch concerns every user
STRATEGIES = Topic("strategies.<account>", Audience.ACCOUNT)
PORTFOLIO = Topic("portfolio.<account>", Audience.ACCOUNT)
RECONCILE = Topic("reconcile.<account>", Audience.ACCOUNT)
GOALS = Topic("goals.<account>", Audience.ACCOUNT)
GOALS_DESK = Topic("goals.global", Audience.EVERYONE)  # goals set for all accounts together
BACKTESTS = Topic("backtests.<user>", Audience.OWNER)  # a user's backtest jobs: queued, progress, done
# A study's trials as they finish (apps.research.studies): to the account of the study's configured
# strategy, or to the administrators for a study of an engine kind alone; and to its owner.
STUDIES = Topic("studies.<account>", Audience.ACCOUNT)
STUDIES_DESK = Topic("studies.desk", Audience.ADMIN)
STUDIES_OWN = Topic("studies.user.<user>", Audience.OWNER)
TOPICS: tuple[Topic, ...] = (
    CANDLES,
    ORDERS,
    POSITIONS,
    SIGNALS,
    RISK,
    RISK_DESK,
    STRATEGIES,
    PORTFOLIO,
    RECONCILE,
    GOALS,
    GOALS_DESK,
    BACKTESTS,
    STUDIES,
    STUDIES_DESK,
    STUDIES_OWN,
)

CANDLE_FIELDS = ("market", "timeframe", "time", "open", "high", "low", "close", "volume")
ORDER_FIELDS = (
    "order",
    "client_order_id",
    "venue_order_id",
    "market",
    "side",
    "type",
    "amount",
    "filled",
    "price",
    "status",
    "reason",
    "strategy",
    "cause",
)
ORDER_KINDS = (
    "order.created",
    "order.submitting",
    "order.acknowledged",
    "order.partially_filled",
    "order.filled",
    "order.canceling",
    "order.canceled",
    "order.rejected",
    "order.expired",
    "order.unknown",
)
FILL_FIELDS = ("fill", "order", "client_order_id", "side", "price", "amount", "fee", "fee_currency")
POSITION_FIELDS = (
    "position",
    "market",
    "side",
    "amount",
    "average_entry",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "stop_loss",
    "take_profit",
    "trailing_stop_pct",
    "protection",
    "origin",
)
SIGNAL_FIELDS = ("signal", "strategy", "market", "side", "intent", "price", "time", "status", "reason")
RISK_DECISION_FIELDS = ("risk_event", "signal", "strategy", "rules", "reason")
STRATEGY_STATUS_FIELDS = ("strategy", "from", "to", "reason")
VENUE_ORDER_FIELDS = ("account", "symbol", "venue_order_id", "client_order_id", "side", "type", "amount", "filled", "price")
RECONCILE_SUMMARY_FIELDS = (
    "account",
    "orders_checked",
    "fills_applied",
    "status_changes",
    "unknown_orders",
    "unknown_order_ids",
    "status_mismatches",
    "status_mismatch_ids",
    "failed",
    "failures",
    "scanned",
    "aborted",
)

HOLDINGS_FINDING_KINDS = ("holdings.external_close", "holdings.mismatch_corrected", "holdings.external_found")
HOLDINGS_FINDING_FIELDS = (
    "account",
    "market",
    "symbol",
    "position",
    "side",
    "amount",
    "price",
    "desk_amount",
    "exchange_amount",
    "position_amount",
    "realized_pnl",
    "closed",
    "client_order_id",
    "reason",
    "severity",
)


def _kind(name: str, topics: Topic | tuple[Topic, ...], fields: Iterable[str]) -> EventKind:
    return EventKind(name, topics if isinstance(topics, tuple) else (topics,), frozenset(fields))


KINDS: tuple[EventKind, ...] = (
    _kind("candle.closed", CANDLES, CANDLE_FIELDS),
    _kind("candles.backfilled", CANDLES, ("market", "timeframe", "count", "from", "to")),
    *(_kind(name, ORDERS, ORDER_FIELDS) for name in ORDER_KINDS),
    # A desk order the exchange never found, settled by reconciliation: alert-grade.
    _kind("order.lost", ORDERS, (*ORDER_FIELDS, "severity")),
    _kind("fill.applied", ORDERS, FILL_FIELDS),
    _kind("position.changed", POSITIONS, POSITION_FIELDS),
    _kind("signal.created", SIGNALS, SIGNAL_FIELDS),
    _kind("signal.rejected", SIGNALS, SIGNAL_FIELDS),
    _kind("risk.allowed", RISK, RISK_DECISION_FIELDS),
    _kind("risk.rejected", RISK, RISK_DECISION_FIELDS),
    _kind("risk.action_taken", (RISK, RISK_DESK), ("risk_event", "rule", "reason", "strategy")),
    # The switch's new state and the banner every page shows for it (pages draw it at once).
    _kind("kill_switch.changed", (RISK, RISK_DESK), ("account", "state", "reason", "banner")),
    _kind("strategy.started", STRATEGIES, STRATEGY_STATUS_FIELDS),
    _kind("strategy.paused", STRATEGIES, STRATEGY_STATUS_FIELDS),
    _kind("strategy.stopped", STRATEGIES, STRATEGY_STATUS_FIELDS),
    # A promotion candidate -> paper -> live (apps.research.promotion): who approved it, the rules checked.
    _kind("strategy.promoted", STRATEGIES, ("strategy", "from", "to", "by", "rules", "reason")),
    # The daily review found a running strategy breaking its rules and acted (action: paused).
    _kind("strategy.rule_breached", STRATEGIES, ("strategy", "review", "rule", "detail", "action", "reason")),
    # The nightly live-vs-backtest report of a day found live further from the backtest than
    # RESEARCH_DIVERGENCE_THRESHOLD (apps/research/live_vs_backtest_report.py): alert-grade.
    _kind(
        "strategy.diverged",
        STRATEGIES,
        ("report", "strategy", "day", "divergence", "threshold", "pnl_difference", "matched", "missing", "extra", "summary"),
    ),
    _kind("portfolio.snapshot_taken", PORTFOLIO, ("account", "equity", "cash")),
    _kind("reconcile.unknown_order", RECONCILE, VENUE_ORDER_FIELDS),
    _kind("reconcile.status_mismatch", RECONCILE, (*VENUE_ORDER_FIELDS, "desk_status")),
    _kind("reconcile.completed", RECONCILE, RECONCILE_SUMMARY_FIELDS),
    # Holdings reconciliation (trading/services/holdings.py): each correction is alert-grade.
    *(_kind(name, RECONCILE, HOLDINGS_FINDING_FIELDS) for name in HOLDINGS_FINDING_KINDS),
    _kind("holdings.reconcile_failing", RECONCILE, ("account", "failures", "error", "severity")),
    _kind(
        "holdings.reconciled",
        RECONCILE,
        ("account", "bases", "corrections", "skipped", "gate_opened", "recovered", "exchange_ms", "desk_ms"),
    ),
    _kind("holdings.baseline_set", RECONCILE, ("account", "assets", "by")),
    _kind("holdings.external_adopted", RECONCILE, ("account", "position", "market", "amount", "strategy", "by")),
    _kind("holdings.external_ignored", RECONCILE, ("account", "position", "market", "amount", "by")),
    # priority: low (achieved, on track), medium (at risk), high (behind, critical)
    # A backtest job moved: status queued / running / done / failed, progress 0-100, run when done.
    _kind("backtest.progressed", BACKTESTS, ("job", "status", "progress", "stage", "error", "run")),
    # A study's trial ended (state complete / pruned / fail, its objective values), or the study did.
    _kind("study.trial_finished", (STUDIES, STUDIES_DESK, STUDIES_OWN), ("study", "trial", "state", "values")),
    _kind("study.finished", (STUDIES, STUDIES_DESK, STUDIES_OWN), ("study", "status")),
    _kind("goal.status_changed", (GOALS, GOALS_DESK), ("goal", "kind", "from", "to", "priority", "progress", "reason")),
    _kind("goal.stance_changed", GOALS, ("account", "stance", "limit", "base", "factor", "reason")),
    _kind(
        "goal.drawdown_breached",
        GOALS,
        ("drawdown_event", "level", "stance", "limit", "actual", "value", "peak", "actions", "priority", "reason"),
    ),
    _kind("goal.drawdown_cleared", GOALS, ("account", "cleared", "by", "reason")),
)
CATALOGUE: dict[str, EventKind] = {kind.name: kind for kind in KINDS}
assert len(CATALOGUE) == len(KINDS), "an event kind is declared twice"
assert {topic for kind in KINDS for topic in kind.topics} <= set(TOPICS), "a kind's topic is missing from TOPICS"


# --- Building and recording -----------------------------------------------------------------


def event_kind(name: str) -> EventKind:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise EventNotDeclared(f"event kind {name!r} is not declared in apps/common/events.py") from None


def event_build(kind: str, payload: Mapping, **topic_values) -> Event:
    """An unsaved Event of a declared kind, on its topic; refuses what does not match."""
    declared = event_kind(kind)
    if payload.keys() != declared.fields:
        missing, extra = sorted(declared.fields - payload.keys()), sorted(payload.keys() - declared.fields)
        raise EventMismatch(f"{kind} payload: missing {missing}, not declared {extra}")
    return unsaved(Event, topic=_topic_of(declared, topic_values), kind=kind, payload=dict(payload))


def _topic_of(declared: EventKind, topic_values: dict) -> str:
    topic = next((topic for topic in declared.topics if topic.params == topic_values.keys()), None)
    if topic is None:
        shapes = " or ".join(t.template for t in declared.topics)
        raise EventMismatch(f"{declared.name} goes to {shapes}; got values {sorted(topic_values)}")
    return topic.name(**topic_values)


def event_record(kind: str, payload: Mapping, **topic_values) -> Event:
    """Record an event inside the change's transaction (the outbox)."""
    assert transaction.get_connection().in_atomic_block, "record events inside the change's transaction"
    event = event_build(kind, payload, **topic_values)
    event.save(force_insert=True)
    _outbox_notify()
    return event


def events_save(events: list[Event]) -> list[Event]:
    """Record events built by event_build, in this order, in one statement."""
    assert transaction.get_connection().in_atomic_block, "record events inside the change's transaction"
    saved = Event.objects.bulk_create(events)
    _outbox_notify()
    return saved


def events_append(events: list[Event]) -> None:
    """Record events built by event_build, in this order, in one statement; their ids are not
    read back (a batch's outbox: the relay reads them by id from the table)."""
    assert transaction.get_connection().in_atomic_block, "record events inside the change's transaction"
    rows_write(Event, events)
    _outbox_notify()


def _outbox_notify() -> None:
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [OUTBOX_CHANNEL])


# --- Reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicMatch:
    topic: Topic
    values: dict

    @property
    def account_id(self) -> int | None:
        """The account whose members may see it; None for a topic every user may see."""
        return self.values.get("account")

    @property
    def user_id(self) -> int | None:
        """The one user who may see it (OWNER topics)."""
        return self.values.get("user")

    @property
    def admins_only(self) -> bool:
        return self.topic.audience == Audience.ADMIN


def topic_parse(topic: str) -> TopicMatch | None:
    """Which declared topic a name is (and its values), or None for a name of no known shape."""
    for declared in TOPICS:
        values = declared.values(topic)
        if values is not None:
            return TopicMatch(declared, values)
    return None


def topic_shapes() -> str:
    return ", ".join(topic.template for topic in TOPICS)


def events_since(*, last_id: int, topics: Iterable[str] | None = None, limit: int = 500) -> list[Event]:
    queryset = Event.objects.filter(id__gt=last_id)
    if topics is not None:
        queryset = queryset.filter(topic__in=list(topics))
    return list(queryset.order_by("id")[:limit])


def event_latest(kind: str, *, payload_match: Mapping | None = None, **topic_values) -> Event | None:
    """The newest event of a kind on a topic, optionally with some payload values."""
    topic = _topic_of(event_kind(kind), topic_values)
    filters = {f"payload__{name}": value for name, value in (payload_match or {}).items()}
    return Event.objects.filter(topic=topic, kind=kind, **filters).order_by("-id").first()
