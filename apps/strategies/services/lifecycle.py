"""Start, pause, stop."""

from django.db import transaction

from apps.common.audit import audit_record, audit_refusals
from apps.common.errors import Conflict, Invalid
from apps.common.events import event_record
from apps.common.logging import get_logger
from apps.exchanges.authorize import account_action_authorize
from apps.exchanges.models import ExchangeAccount
from apps.exchanges.roles import Role
from apps.strategies.models import PromotionPolicy, Strategy

log = get_logger(__name__)


def strategy_status_set(*, actor, strategy: Strategy, status: str, reason: str = "", via: str | None = None) -> Strategy:
    """Start, pause or stop. `actor` None is the system (a pause after failures); a person needs
    the trader role on the strategy's account. Audited, refusals too."""
    with audit_refusals(
        actor=actor,
        via=via,
        action="strategy.status_set",
        object_type=Strategy._meta.label_lower,
        object_id=strategy.pk,
        reason=reason,
    ):
        if status not in Strategy.Status.values:
            raise Invalid.from_fields({"status": f"choose one of {', '.join(Strategy.Status.values)} (not {status!r})"})
        account_action_authorize(
            actor=actor,
            account_id=strategy.account_id,
            role=Role.TRADER,
            doing="start, pause or stop strategies",
            missing=f"no strategy #{strategy.pk} on your accounts",
        )
        return strategy_status_change(actor=actor, strategy=strategy, status=status, reason=reason, via=via)


def strategy_status_change(*, actor, strategy: Strategy, status: str, reason: str, via: str | None) -> Strategy:
    """The change itself, for a caller that has authorized the actor (strategy_status_set, a
    promotion): the one place a strategy starts, so the account's limit of running strategies
    is checked here. Inside the caller's transaction when it has one."""
    with transaction.atomic():
        if status == Strategy.Status.RUNNING:
            # The account's row lock makes two starts at once count each other.
            ExchangeAccount.objects.select_for_update().filter(pk=strategy.account_id).first()
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        if locked.status == status:
            return locked
        if status == Strategy.Status.RUNNING:
            active_limit_check(locked)
        previous = locked.status
        locked.status, locked.status_reason = status, reason[:300]
        if status == Strategy.Status.RUNNING:
            locked.consecutive_failures = 0
        locked.save(update_fields=["status", "status_reason", "consecutive_failures", "updated_at"])
        event_record(
            f"strategy.{'started' if status == 'running' else status}",
            {"strategy": locked.pk, "from": previous, "to": status, "reason": reason},
            account=locked.account_id,
        )
        audit_record(
            actor=actor,
            via=via,
            action="strategy.status_set",
            obj=locked,
            reason=reason,
            before={"status": previous},
            after={"status": status},
        )
    return locked


def active_limit_check(strategy: Strategy) -> None:
    """Conflict when starting `strategy` would run more strategies on its account than its
    promotion policy's max_active_strategies (MAX_ACTIVE_STRATEGIES by default)."""
    limit = PromotionPolicy.for_account(strategy.account_id).max_active_strategies
    running = list(
        Strategy.objects.filter(account_id=strategy.account_id, status=Strategy.Status.RUNNING)
        .exclude(pk=strategy.pk)
        .order_by("name")
        .values_list("name", flat=True)
    )
    if len(running) >= limit:
        shown = ", ".join(running[:5]) + (f" and {len(running) - 5} more" if len(running) > 5 else "")
        raise Conflict(
            f"{strategy.name} cannot start: its account already runs {len(running)} "
            f"{'strategy' if len(running) == 1 else 'strategies'} ({shown}), the most it allows "
            f"(max active strategies {limit}). Pause or stop one first."
        )
