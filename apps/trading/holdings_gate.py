"""The start gate: after a worker starts (and after an outage of the exchange longer than
TRADING_GATE_OUTAGE_S) the desk does not know what the exchange holds, so new entries are
refused with the reason "reconciling with the exchange" until one full holdings reconciliation
of the account succeeded (apps/trading/services/holdings.py). Exits and protective stops are
never gated. Paper accounts are the desk's own book: never gated.

The worker-start closure is a row per account in the database (every process and worker agrees,
and it survives a cache flush); the outage one is the venue-health record in the cache
(apps/trading/venue_health.py). Reads only, except `gates_close` (a worker start)."""

from django.db.models import F, Q
from django.utils import timezone

from apps.exchanges.models import ExchangeAccount
from apps.trading.models import HoldingsState
from apps.trading.venue_health import venue_outage_long

GATE_WORDS = "reconciling with the exchange"


def _closed(row: HoldingsState | None) -> bool:
    return bool(row and row.gate_closed_at and (row.last_success_at is None or row.last_success_at < row.gate_closed_at))


def gate_reason(*, account_id: int, mode: str | None = None) -> str:
    """Why entries on this account wait for a reconciliation ('' when they need not)."""
    if mode == ExchangeAccount.Mode.PAPER:
        return ""
    row = HoldingsState.objects.filter(account_id=account_id).only("gate_closed_at", "last_success_at", "gate_reason").first()
    return _reason(account_id, row)


def _reason(account_id: int, row: HoldingsState | None) -> str:
    if _closed(row):
        return row.gate_reason or "a worker started"
    outage = venue_outage_long(account_id=account_id)
    return f"the exchange did not answer for {outage:.0f} s" if outage else ""


def gates_close(*, reason: str) -> int:
    """A worker started: every active sim/live account waits for its next reconciliation."""
    now = timezone.now()
    accounts = list(
        ExchangeAccount.objects.filter(active=True).exclude(mode=ExchangeAccount.Mode.PAPER).values_list("pk", flat=True)
    )
    existing = set(HoldingsState.objects.filter(account_id__in=accounts).values_list("account_id", flat=True))
    HoldingsState.objects.bulk_create(
        [HoldingsState(account_id=pk) for pk in accounts if pk not in existing], ignore_conflicts=True
    )
    return HoldingsState.objects.filter(account_id__in=accounts).update(gate_closed_at=now, gate_reason=reason[:200])


def gate_states(*, account_ids=None) -> list[dict]:
    """Every sim/live account's gate (for /health/ready and the cockpit banner)."""
    accounts = ExchangeAccount.objects.filter(active=True).exclude(mode=ExchangeAccount.Mode.PAPER).order_by("pk")
    if account_ids is not None:
        accounts = accounts.filter(pk__in=account_ids)
    listed = list(accounts.values_list("pk", "name"))
    ids = [account_id for account_id, _ in listed]
    # read only for the accounts that can be gated: a desk of paper accounts asks nothing more
    rows = {row.account_id: row for row in HoldingsState.objects.filter(account_id__in=ids)} if ids else {}
    states = []
    for account_id, name in listed:
        row = rows.get(account_id)
        reason = _reason(account_id, row)
        states.append(
            {
                "account": account_id,
                "name": name,
                "open": not reason,
                "reason": f"{GATE_WORDS}: {reason}" if reason else "",
                "last_reconciled": row.last_success_at.isoformat() if row and row.last_success_at else None,
                "failures": row.consecutive_failures if row else 0,
            }
        )
    return states


def gates_closed_count() -> int:
    """Accounts whose worker-start gate is closed (one query; for a quick probe)."""
    return HoldingsState.objects.filter(
        Q(gate_closed_at__isnull=False) & (Q(last_success_at__isnull=True) | Q(last_success_at__lt=F("gate_closed_at")))
    ).count()


def gate_health() -> dict:
    """The gate for /health/ready: {"open": every account's gate open, "accounts": [...]}."""
    states = gate_states()
    return {"open": all(state["open"] for state in states), "accounts": states}


def gate_banners(*, account_ids) -> list[str]:
    """The cockpit's words for each of these accounts whose entries wait for a reconciliation."""
    return [
        f"Account {state['name']}: new entries wait — {state['reason']}"
        for state in gate_states(account_ids=account_ids)
        if not state["open"]
    ]
