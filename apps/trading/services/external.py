"""What an admin decides about holdings the desk did not make (holdings reconciliation found them):

- adopt an external position: it becomes the desk's (optionally a strategy's), so strategies and
  protective exits may trade it;
- ignore it: it is added to the account's external-holdings baseline and leaves the desk's book
  (a synthetic sell at its entry price: no P&L), as if it had been there before the desk;
- correct the baseline of an asset by hand.

Each takes the actor and the interface, needs the admin role on the account, and is audited
(refusals included)."""

import hashlib
from decimal import Decimal

from django.db import transaction

from apps.common.audit import audit_record, audit_refusals
from apps.common.errors import Conflict, Invalid, NotFound
from apps.common.events import event_record
from apps.exchanges.authorize import account_action_authorize
from apps.exchanges.roles import Role
from apps.trading.book import account_lock
from apps.trading.models import HoldingsBaseline, Position
from apps.trading.services.holdings import synthetic_fill_apply

ZERO = Decimal(0)


def _who(actor) -> str:
    return actor.get_username() if actor is not None else "the system"


def _external_locked(actor, position_id: int, doing: str) -> Position:
    """Inside a transaction: the account locked (placement waits), then the position."""
    missing = f"no position #{position_id} on your accounts"
    found = Position.objects.filter(pk=position_id).values_list("account_id", flat=True).first()
    if found is None:
        raise NotFound(missing)
    account_action_authorize(actor=actor, account_id=found, role=Role.ADMIN, doing=doing, missing=missing)
    account_lock(account_id=found)
    position = Position.objects.select_for_update(of=("self",)).select_related("market", "account").get(pk=position_id)
    if position.origin != Position.Origin.EXTERNAL or position.amount <= 0:
        raise Conflict(f"position #{position_id} ({position.market.symbol}) is not an external position")
    return position


def _state(position: Position) -> dict:
    return {"origin": position.origin, "amount": str(position.amount), "strategy": position.strategy_id}


def external_position_adopt(*, actor, via: str | None, position_id: int, strategy_id: int | None = None) -> Position:
    """The position becomes the desk's: a strategy's exit (of `strategy_id`, if given) may sell it."""
    with audit_refusals(actor=actor, via=via, action="position.adopt", object_type="trading.position", object_id=position_id):
        with transaction.atomic():
            position = _external_locked(actor, position_id, "adopt external positions")
            before = _state(position)
            if strategy_id is not None and not position.account.strategies.filter(pk=strategy_id).exists():
                raise Invalid.from_fields({"strategy": f"no strategy #{strategy_id} on account {position.account.name}"})
            position.origin, position.strategy_id = Position.Origin.DESK, strategy_id
            position.save(update_fields=["origin", "strategy", "updated_at"])
            event_record(
                "holdings.external_adopted",
                {
                    "account": position.account_id,
                    "position": position.pk,
                    "market": position.market_id,
                    "amount": str(position.amount),
                    "strategy": strategy_id,
                    "by": _who(actor),
                },
                account=position.account_id,
            )
            audit_record(actor=actor, via=via, action="position.adopt", obj=position, before=before, after=_state(position))
    return position


def external_position_ignore(*, actor, via: str | None, position_id: int) -> Position:
    """The holding goes into the baseline (held outside the desk) and out of the desk's book."""
    with audit_refusals(actor=actor, via=via, action="position.ignore", object_type="trading.position", object_id=position_id):
        with transaction.atomic():
            position = _external_locked(actor, position_id, "ignore external positions")
            before, amount, market = _state(position), position.amount, position.market
            baseline, _ = HoldingsBaseline.objects.select_for_update().get_or_create(
                account_id=position.account_id, asset=market.base
            )
            baseline.amount += amount
            baseline.save(update_fields=["amount", "updated_at"])
            key = "ig-" + hashlib.sha256(f"{position.pk}:{position.updated_at.isoformat()}:{amount}".encode()).hexdigest()[:32]
            synthetic_fill_apply(
                account_id=position.account_id,
                market=market,
                side="sell",
                amount=amount,
                price=position.average_entry,
                key=key,
                cause=f"ignored by {_who(actor)}: {amount.normalize():f} {market.base} counted as held outside the desk",
            )
            position.refresh_from_db()
            event_record(
                "holdings.external_ignored",
                {
                    "account": position.account_id,
                    "position": position.pk,
                    "market": market.pk,
                    "amount": str(amount),
                    "by": _who(actor),
                },
                account=position.account_id,
            )
            audit_record(actor=actor, via=via, action="position.ignore", obj=position, before=before, after=_state(position))
    return position


def holdings_baseline_validate(*, asset, amount) -> dict[str, str]:
    """Every bad field of a baseline at once (the admin form and the service)."""
    errors = {}
    try:
        value = Decimal(str(amount))
        if not value.is_finite() or value < 0:
            errors["amount"] = "a holding is zero or more"
    except ArithmeticError:
        errors["amount"] = f"{amount!r} is not a number"
    if not str(asset or "").strip():
        errors["asset"] = "name the asset, e.g. BTC"
    return errors


def holdings_baseline_set(*, actor, via: str | None, account_id: int, asset: str, amount) -> HoldingsBaseline:
    """An admin's correction of what the account holds outside the desk."""
    with audit_refusals(
        actor=actor,
        via=via,
        action="holdings.baseline_set",
        object_type="trading.holdingsbaseline",
        object_id=f"{account_id}:{asset}",
    ):
        account_action_authorize(
            actor=actor,
            account_id=account_id,
            role=Role.ADMIN,
            doing="change external holdings",
            missing=f"no account #{account_id} on your accounts",
        )
        errors = holdings_baseline_validate(asset=asset, amount=amount)
        if errors:
            raise Invalid.from_fields(errors)
        amount = Decimal(str(amount))
        with transaction.atomic():
            baseline, _ = HoldingsBaseline.objects.select_for_update().get_or_create(
                account_id=account_id, asset=asset.strip().upper()
            )
            before = {"amount": str(baseline.amount)}
            baseline.amount = amount
            baseline.save(update_fields=["amount", "updated_at"])
            audit_record(
                actor=actor, via=via, action="holdings.baseline_set", obj=baseline, before=before, after={"amount": str(amount)}
            )
    return baseline
