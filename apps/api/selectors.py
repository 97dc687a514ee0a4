"""The querysets the API reads, each cut to the accounts the user sees (outside = 404), each
with what its serializer needs loaded up front (a constant number of queries per page)."""

from django.db import connection
from django.db.models import BigIntegerField, F, Func, OuterRef, Prefetch, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber

from apps.alerts.models import AlertRule
from apps.alerts.selectors import alerts_visible
from apps.common.models import AuditEntry
from apps.exchanges.selectors import account_scoped, accounts_visible_to
from apps.goals.models import DrawdownEvent, Goal, GoalAdjustment, GoalSnapshot, RiskLimitAdjustment
from apps.markets.models import Candle, Market
from apps.risk.models import KillSwitch, RiskEvent, RiskLimits
from apps.strategies.models import Strategy
from apps.trading.models import Balance, Fill, Order, OrderEvent, PortfolioSnapshot, Position, Signal


def api_accounts(*, user) -> QuerySet:
    newest = PortfolioSnapshot.objects.filter(account=OuterRef("pk")).order_by("-taken_at")
    return (
        accounts_visible_to(user=user)
        .defer("api_key", "api_secret")  # never shown; each would be decrypted per row
        .select_related("exchange")
        .prefetch_related(Prefetch("balances", queryset=Balance.objects.order_by("asset")))
        .annotate(
            equity=Subquery(newest.values("equity")[:1]),
            equity_at=Subquery(newest.values("taken_at")[:1]),
            kill_state=Subquery(KillSwitch.objects.filter(account=OuterRef("pk")).values("state")[:1]),
        )
    )


def api_markets(*, user) -> QuerySet:
    """Markets of the exchanges the user's accounts trade on."""
    queryset = Market.objects.select_related("exchange")
    if getattr(user, "is_superuser", False):
        return queryset
    return queryset.filter(exchange_id__in=accounts_visible_to(user=user).values("exchange_id"))


def api_candles(*, user) -> QuerySet:
    return Candle.objects.filter(market__in=api_markets(user=user).values("pk"))


def api_strategies(*, user) -> QuerySet:
    return account_scoped(Strategy.objects.prefetch_related("markets"), user=user)


def api_signals(*, user) -> QuerySet:
    return account_scoped(Signal.objects.prefetch_related("risk_events"), user=user)


def api_orders(*, user) -> QuerySet:
    return account_scoped(
        Order.objects.select_related("market", "signal")
        # of the market and the signal only what OrderSerializer shows: a signal's indicators
        # (JSON) and a market's dozen columns were decoded on every row for nothing
        .only(*(field.name for field in Order._meta.concrete_fields), "market__symbol", "signal__price", "signal__created_at")
        .prefetch_related(
            # to_attr: a plain list per order (Django builds no queryset per row for it)
            Prefetch("events", queryset=OrderEvent.objects.order_by("id"), to_attr="event_list")
        ),
        user=user,
    )


def api_orders_version(*, user) -> str:
    """The state of everything the user's order list shows, in one query: each account the user
    sees (accounts_visible_to's rule: a superuser all, a member theirs) with its orders version,
    the desk's (apps.api.models.OrdersVersion, account 0) and the version table's identity (a
    restored backup, pg_restore --clean, makes it anew: versions the restore took back never
    meet pages kept before it). Equal strings: the same rows, rendered the same. PostgreSQL
    only (its triggers write the versions); SQL written once, as this runs on every request
    (the ORM compiling it cost more than the page from the cache)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return "none"
    with connection.cursor() as cursor:
        cursor.execute(_VERSIONS_SQL, [user.is_superuser, user.pk])
        rows = cursor.fetchall()
    head = f"{rows[0][3]} {rows[0][2] or 0}" if rows else "none"
    return f"{'all' if user.is_superuser else 'members'} {head} " + " ".join(f"{pk}:{own or 0}" for pk, own, _, _ in rows)


_VERSIONS_SQL = """
SELECT account.id, own.version, (SELECT version FROM api_orders_version WHERE account_id = 0),
       'api_orders_version'::regclass::oid::bigint
FROM exchanges_exchangeaccount account
LEFT JOIN api_orders_version own ON own.account_id = account.id
WHERE %s OR EXISTS (
    SELECT 1 FROM exchanges_accountmembership membership WHERE membership.account_id = account.id AND membership.user_id = %s
)
ORDER BY account.id
"""


def api_fills(*, user) -> QuerySet:
    return account_scoped(Fill.objects.select_related("order"), user=user, paths=("order__account",))


def api_positions(*, user) -> QuerySet:
    return account_scoped(Position.objects.select_related("market"), user=user)


def api_risk_limits(*, user) -> QuerySet:
    """An account's limits, its strategies' limits, and the desk-wide ones (they bind everybody)."""
    return account_scoped(RiskLimits.objects.all(), user=user, paths=("account", "strategy__account"), shared_rows=True)


def api_risk_events(*, user) -> QuerySet:
    return account_scoped(RiskEvent.objects.all(), user=user, shared_rows=True)


def api_kill_switches(*, user) -> QuerySet:
    return account_scoped(KillSwitch.objects.all(), user=user, shared_rows=True)


def api_snapshots(*, user) -> QuerySet:
    return account_scoped(PortfolioSnapshot.objects.all(), user=user)


class EpochBucket(Func):
    """Which `seconds`-wide bucket a time falls in, counted from the UTC epoch (so 1d buckets
    start at 00:00 UTC)."""

    output_field = BigIntegerField()

    def __init__(self, expression, seconds: int):
        super().__init__(expression)
        self.seconds = int(seconds)

    def as_postgresql(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"FLOOR(EXTRACT(EPOCH FROM {sql}) / {self.seconds})::bigint", params

    def as_sqlite(self, compiler, connection):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(CAST(strftime('%%s', {sql}) AS INTEGER) / {self.seconds})", params  # %% : a literal % in the SQL


def snapshots_downsampled(snapshots: QuerySet, *, seconds: int) -> QuerySet:
    """The equity curve at one point per bucket: each account's last snapshot of every
    `seconds`-wide bucket among `snapshots` (already cut to the user's accounts and the range)."""
    last_per_bucket = (
        snapshots.order_by()
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("account_id"), EpochBucket(F("taken_at"), seconds)],
                order_by=[F("taken_at").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
        .values("pk")
    )
    return PortfolioSnapshot.objects.filter(pk__in=last_per_bucket)


def api_audit_entries(*, user) -> QuerySet:
    return AuditEntry.objects.all()  # the view admits admins only


def api_goals(*, user) -> QuerySet:
    """Goals of the user's accounts, and those set for all accounts (they steer every account)."""
    return account_scoped(Goal.objects.select_related("account"), user=user, shared_rows=True)


def api_goal_snapshots(*, user) -> QuerySet:
    return account_scoped(GoalSnapshot.objects.all(), user=user, paths=("goal__account",), shared_rows=True)


def api_goal_adjustments(*, user) -> QuerySet:
    return account_scoped(GoalAdjustment.objects.all(), user=user)


def api_drawdown_events(*, user) -> QuerySet:
    return account_scoped(DrawdownEvent.objects.select_related("cleared_by"), user=user)


def api_risk_limit_adjustments(*, user) -> QuerySet:
    return account_scoped(RiskLimitAdjustment.objects.all(), user=user)


def api_alerts(*, user) -> QuerySet:
    """Alerts of the user's accounts and the desk-wide ones, with their deliveries."""
    return alerts_visible(user=user)


def api_alert_rules(*, user) -> QuerySet:
    """The rules of the user's accounts and the desk's own (no account)."""
    return account_scoped(
        AlertRule.objects.prefetch_related("accounts", "markets", "strategies", "channels"), user=user, shared_rows=True
    )
