"""Create and edit a strategy's configuration (kind, params, account, markets, allocation,
protective exits): an admin's change on its account, checked by the one validation the admin
form shares (apps.strategies.validation.strategy_config_validate), audited. Starting, pausing
and stopping is lifecycle.py's."""

from collections.abc import Mapping

from django.db import transaction

from apps.common.audit import audit_diff, audit_record, audit_refusals, audit_snapshot
from apps.common.errors import NotAllowed
from apps.exchanges.authorize import account_action_authorize
from apps.exchanges.roles import Role, user_has_role
from apps.exchanges.selectors import accounts_visible_to
from apps.strategies.models import Strategy
from apps.strategies.validation import CONFIG_FIELDS, strategy_config_validate

DOING = "create or edit strategies"


def strategy_create(*, actor, values: Mapping, via: str | None = None) -> Strategy:
    """A new strategy, stopped (start it with strategy_status_set). Every field is required
    but params (the kind's defaults) and the protective exits (none)."""
    with audit_refusals(actor=actor, via=via, action="strategy.create", object_type=Strategy._meta.label_lower, object_id=""):
        if actor is not None and not user_has_role(actor, Role.ADMIN):
            raise NotAllowed(f"{actor.get_username()} may not {DOING}: that needs the admin role.")
        given = {name: values[name] for name in CONFIG_FIELDS if name in values}
        cleaned = strategy_config_validate({**_new_strategy_defaults(), **given}, accounts=_accounts(actor))
        with transaction.atomic():
            strategy = Strategy(**{name: value for name, value in cleaned.items() if name != "markets"})
            strategy.save()
            strategy.markets.set(cleaned["markets"])
            audit_record(actor=actor, via=via, action="strategy.create", obj=strategy, after=audit_snapshot(strategy))
    return strategy


def strategy_update(*, actor, strategy: Strategy, values: Mapping, via: str | None = None) -> Strategy:
    """Change the fields given in `values`; the result is checked whole (a new timeframe must
    have candles for the markets it already trades)."""
    with audit_refusals(
        actor=actor, via=via, action="strategy.update", object_type=Strategy._meta.label_lower, object_id=strategy.pk
    ):
        account_action_authorize(
            actor=actor,
            account_id=strategy.account_id,
            role=Role.ADMIN,
            doing=DOING,
            missing=f"no strategy #{strategy.pk} on your accounts",
        )
        current = {name: getattr(strategy, name) for name in CONFIG_FIELDS if name not in ("account", "markets")}
        current |= {"account": strategy.account, "markets": list(strategy.markets.all())}
        changes = {name: values[name] for name in CONFIG_FIELDS if name in values}
        cleaned = strategy_config_validate({**current, **changes}, accounts=_accounts(actor), instance=strategy)
        with transaction.atomic():
            locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
            before = audit_snapshot(locked)
            for name, value in cleaned.items():
                if name != "markets":
                    setattr(locked, name, value)
            locked.save()
            locked.markets.set(cleaned["markets"])
            before, after = audit_diff(before, audit_snapshot(locked))
            if after:
                audit_record(actor=actor, via=via, action="strategy.update", obj=locked, before=before, after=after)
    return locked


def _accounts(actor):
    return None if actor is None else accounts_visible_to(user=actor)


def _new_strategy_defaults() -> dict:
    """What a new strategy holds unless told otherwise; None: the caller must give it."""
    model = Strategy._meta
    defaults = {name: model.get_field(name).get_default() for name in ("timeframe", "allocation_type", "allocation_value")}
    return {"name": None, "kind": None, "params": {}, "account": None, "markets": None, **defaults}
