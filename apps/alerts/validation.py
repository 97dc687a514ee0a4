"""One check of a rule's settings, for the admin's form and the API: every bad field at once, in
a trader's words."""

from decimal import Decimal

from apps.alerts.models import AlertRule
from apps.common.events import CATALOGUE

Condition = AlertRule.Condition
PERCENT = {
    Condition.POSITION_PNL_BELOW,
    Condition.POSITION_PNL_ABOVE,
    Condition.STRATEGY_DRAWDOWN_ABOVE,
    Condition.DAILY_LOSS_ABOVE,
}
ALERT_KINDS = {"kill_switch", "reconcile.failed"}


def rule_errors(
    *, condition: str, threshold: Decimal | None, event_kinds, markets, account=None, accounts=(), strategies=()
) -> dict[str, str]:
    """`markets`: the markets chosen (a price rule needs at least one); `account` (whose rule, None:
    the desk's), `accounts` and `strategies` as chosen, so that what a rule names is on its accounts."""
    errors = _scope_errors(account=account, accounts=list(accounts), markets=list(markets), strategies=list(strategies))
    if condition not in Condition.values:
        return {**errors, "condition": f"choose one of: {', '.join(value or '(events)' for value in Condition.values)}"}
    if condition == Condition.EVENTS:
        if not isinstance(event_kinds, list) or not all(isinstance(kind, str) for kind in event_kinds):
            errors["event_kinds"] = 'Give a list of event kinds, e.g. ["order.filled"].'
        elif unknown := sorted(set(event_kinds) - set(CATALOGUE) - ALERT_KINDS):
            errors["event_kinds"] = f"No such event kind: {', '.join(unknown)}."
        return errors
    label = Condition(condition).label.split(" (")[0]
    if event_kinds:
        errors["event_kinds"] = f"A rule on “{label}” watches a figure, not events: leave the event kinds empty."
    if threshold is None:
        errors["threshold"] = f"“{label}” needs a threshold."
    elif condition in (Condition.PRICE_ABOVE, Condition.PRICE_BELOW) and threshold <= 0:
        errors["threshold"] = "A price level is above 0."
    elif condition in (Condition.STRATEGY_DRAWDOWN_ABOVE, Condition.DAILY_LOSS_ABOVE) and not 0 < threshold <= 100:
        errors["threshold"] = "Give a percentage above 0 and up to 100 (5 = 5 %)."
    elif condition in PERCENT and not -100 <= threshold <= 1000:
        errors["threshold"] = "Give a percentage from -100 to 1000 (-5 = a 5 % loss)."
    elif condition == Condition.NO_FILL and (threshold != int(threshold) or not 1 <= threshold <= 7 * 24 * 60):
        errors["threshold"] = "Give whole minutes from 1 to 10080 (a week)."
    if condition in (Condition.PRICE_ABOVE, Condition.PRICE_BELOW) and not markets:
        errors["markets"] = "A price rule needs the markets it watches."
    return errors


def _scope_errors(*, account, accounts: list, markets: list, strategies: list) -> dict[str, str]:
    """A rule of an account applies to that account only (apps.alerts.watch.rule_accounts): the
    accounts, strategies and markets it names must be that account's (markets: on its exchange).
    A desk-wide rule (no account) may name any; naming accounts then narrows what it watches."""
    errors = {}
    if account is None:
        if not accounts:
            return errors
        scope = accounts
    else:
        scope = [account]
        if others := sorted({other.name for other in accounts if other.pk != account.pk}):
            errors["accounts"] = (
                f"A rule of {account.name} watches {account.name} only, not {', '.join(others)}: "
                f"leave the accounts empty or name {account.name}."
            )
    ids = {each.pk for each in scope}
    names = ", ".join(sorted(each.name for each in scope))
    if foreign := sorted(strategy.name for strategy in strategies if strategy.account_id not in ids):
        errors["strategies"] = f"{', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not on {names}."
    exchanges = {each.exchange_id for each in scope}
    if foreign := sorted(market.symbol for market in markets if market.exchange_id not in exchanges):
        errors["markets"] = f"{', '.join(foreign)}: not on the exchange of {names}."
    return errors
