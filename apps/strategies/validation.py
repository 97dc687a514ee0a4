"""One validation of a strategy's settings, shared by the admin form, the backtest and
optimize commands and the API: every bad field at once, as Invalid(fields=...), in words a
trader reads ("stop-loss must be above 0 and below 100 (a percentage of the entry price,
e.g. 5 for 5 %); got -5").

Percent settings are stored as percentages (5 = 5 %), as the admin and the commands take them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from apps.common.errors import Invalid
from apps.common.validation import NumberRule, number_text, numbers_check, raise_if_any
from apps.engine.timeframes import TIMEFRAME_SECONDS

ZERO, HUNDRED = Decimal(0), Decimal(100)
TIMEFRAMES = tuple(TIMEFRAME_SECONDS)

PROTECTIVE_EXITS = {
    "stop_loss_pct": NumberRule(
        "stop-loss",
        ZERO,
        HUNDRED,
        high_inclusive=False,
        meaning="a percentage of the entry price, e.g. 5 for 5 %; leave it blank for none",
    ),
    "take_profit_pct": NumberRule(
        "take-profit", ZERO, Decimal(1000), meaning="a percentage of the entry price, e.g. 10 for 10 %; leave it blank for none"
    ),
    "trailing_stop_pct": NumberRule(
        "trailing stop",
        ZERO,
        HUNDRED,
        high_inclusive=False,
        meaning="a percentage below the highest price since the entry, e.g. 3 for 3 %; leave it blank for none",
    ),
}
ALLOCATION = {
    "quote": NumberRule("allocation", ZERO, Decimal("1e15"), meaning="the quote amount each entry spends, e.g. 100 for 100 USDT"),
    "equity_pct": NumberRule(
        "allocation", ZERO, HUNDRED, meaning="the percentage of the account's equity each entry spends, e.g. 10 for 10 %"
    ),
}
BACKTEST = {
    "initial_balance": NumberRule(
        "initial balance", Decimal("0.01"), Decimal("1e15"), low_inclusive=True, meaning="in quote currency, e.g. 10000"
    ),
    "fee_pct": NumberRule(
        "fee", ZERO, Decimal(5), low_inclusive=True, meaning="a percentage of each order's value, e.g. 0.1 for 0.1 %"
    ),
    "slippage_bps": NumberRule(
        "slippage", ZERO, Decimal(1000), low_inclusive=True, meaning="in basis points of the price, e.g. 5 for 0.05 %"
    ),
}


def strategy_settings_validate(
    values: Mapping,
    *,
    markets: Iterable = (),
    subjects: Mapping[str, str] | None = None,
) -> dict[str, Decimal | None]:
    """The settings given in `values` (stop_loss_pct, take_profit_pct, trailing_stop_pct,
    allocation_type + allocation_value; a backtest's initial_balance, fee_pct, slippage_bps)
    as Decimals (None when blank). A quote allocation must reach every market's minimum order
    value, or each entry would be refused. Raises Invalid with every bad field."""
    parsed, errors = numbers_check({**PROTECTIVE_EXITS, **BACKTEST}, values, subjects=subjects)
    kind = values.get("allocation_type")
    if kind in ALLOCATION and "allocation_value" in values:
        allocation, errors = numbers_check({"allocation_value": ALLOCATION[kind]}, values, subjects=subjects, errors=errors)
        parsed.update(allocation)
        value = parsed.get("allocation_value")
        if kind == "quote" and value is not None:
            _allocation_reaches_minimums(value, markets, errors, (subjects or {}).get("allocation_value") or "allocation")
    raise_if_any(errors)
    return parsed


def _allocation_reaches_minimums(value: Decimal, markets: Iterable, errors: dict, subject: str) -> None:
    below = [market for market in markets if market.min_notional and value < market.min_notional]
    if below:
        smallest = max(market.min_notional for market in below)
        names = ", ".join(f"{m.symbol} {number_text(m.min_notional)} {m.quote}" for m in below)
        errors.setdefault("allocation_value", []).append(
            f"{subject[0].upper()}{subject[1:]} {number_text(value)} is below the smallest order the exchange accepts "
            f"({names}): every entry would be refused; enter at least {number_text(smallest)}."
        )


# --- A whole strategy: what the admin form and the API save --------------------------------------

# The account's equity is trading's to know, and strategies sits below trading: trading hands
# this module its reader when the apps are ready (apps/trading/apps.py). Without one, a quote
# allocation is not checked against the equity.
_account_equity_reader = None


def account_equity_reader_set(reader) -> None:
    global _account_equity_reader
    _account_equity_reader = reader


CONFIG_FIELDS = (
    "name",
    "kind",
    "params",
    "account",
    "markets",
    "timeframe",
    "allocation_type",
    "allocation_value",
    "stop_loss_pct",
    "take_profit_pct",
    "trailing_stop_pct",
    "markets_top",
)
SETTINGS_FIELDS = ("allocation_type", "allocation_value", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct")
NAME_MAX = 80


def strategy_config_validate(values: Mapping, *, accounts=None, instance=None) -> dict:
    """A strategy's whole configuration (CONFIG_FIELDS; account and markets as objects or ids),
    checked at once: the name (unique), the kind and its params (the engine's own schema, defaults
    filled in), the account (among `accounts` when given), markets of the account's exchange with
    candles collected on the timeframe, the allocation and protective exits. Returns the cleaned
    values; raises Invalid with every bad field. `instance`: the strategy being edited."""
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    cleaned = {name: values[name] for name in CONFIG_FIELDS if name in values}
    if "name" in values:
        cleaned["name"] = _name_check(values["name"], instance, bad)
    if "account" in values:
        cleaned["account"] = _account_check(values["account"], accounts, bad)
    if "markets" in values:
        cleaned["markets"] = _markets_check(values["markets"], cleaned.get("account"), bad)
    if "timeframe" in values and values["timeframe"] not in TIMEFRAMES:
        bad("timeframe", f"Choose a timeframe among {', '.join(TIMEFRAMES)}; got {values['timeframe']!r}.")
    if "kind" in values or "params" in values:
        cleaned.update(_kind_params_check(values.get("kind"), values.get("params"), values.get("timeframe"), bad))
    if "markets_top" in values:
        cleaned["markets_top"] = _markets_top_check(values["markets_top"], cleaned.get("markets"), bad)
    if cleaned.get("markets") and values.get("timeframe") in TIMEFRAMES:
        _data_available_check(cleaned["markets"], values["timeframe"], bad)
    allocation_type = values.get("allocation_type")
    if "allocation_type" in values and allocation_type not in ALLOCATION:
        bad("allocation_type", f"Choose quote (a fixed quote amount) or equity_pct (a % of equity); got {allocation_type!r}.")
    if "allocation_value" in values and values["allocation_value"] in (None, ""):
        bad("allocation_value", "Give the allocation: the quote amount, or the % of equity, each entry spends.")
    try:
        settings = {name: values[name] for name in SETTINGS_FIELDS if name in values}
        cleaned.update(strategy_settings_validate(settings, markets=cleaned.get("markets") or ()))
    except Invalid as exc:
        for name, messages in exc.fields.items():
            errors.setdefault(name, []).extend(messages)
    else:
        _allocation_fits_equity_check(cleaned, bad)
    raise_if_any(errors)
    return cleaned


def _name_check(name, instance, bad) -> str:
    from apps.strategies.models import Strategy

    if not isinstance(name, str) or not name.strip():
        bad("name", "Give the strategy a name, e.g. 'BTC trend 1h'.")
        return ""
    name = name.strip()
    if len(name) > NAME_MAX or not name.isprintable():
        bad("name", f"A name is at most {NAME_MAX} printable characters.")
    elif Strategy.objects.filter(name=name).exclude(pk=getattr(instance, "pk", None)).exists():
        bad("name", f"A strategy named {name!r} exists already: choose another name.")
    return name


def _account_check(account, accounts, bad):
    from apps.exchanges.models import ExchangeAccount

    account_id = account.pk if isinstance(account, ExchangeAccount) else account
    if not _is_id(account_id):
        bad("account", f"Give the account's id (a whole number); got {account!r}.")
        return None
    found = (accounts if accounts is not None else ExchangeAccount.objects.all()).filter(pk=account_id).first()
    if found is None:
        bad("account", f"No account #{account_id} among your accounts.")
    return found


def _markets_check(markets, account, bad) -> list:
    from apps.markets.models import Market

    if not isinstance(markets, (list, tuple)) and not hasattr(markets, "model"):
        bad("markets", f"Give a list of market ids, e.g. [1, 2]; got {markets!r}.")
        return []
    given = list(markets)
    ids = [market.pk if isinstance(market, Market) else market for market in given]
    if not ids:
        bad("markets", "Choose at least one market.")
        return []
    if not all(_is_id(market_id) for market_id in ids):
        bad("markets", f"Market ids are whole numbers; got {markets!r}.")
        return []
    found = {market.pk: market for market in Market.objects.filter(pk__in=ids).select_related("exchange")}
    missing = [str(market_id) for market_id in ids if market_id not in found]
    if missing:
        bad("markets", f"No market #{', #'.join(missing)}.")
    chosen = [found[market_id] for market_id in dict.fromkeys(ids) if market_id in found]
    if account is not None:
        elsewhere = [market.symbol for market in chosen if market.exchange_id != account.exchange_id]
        if elsewhere:
            bad("markets", f"{', '.join(elsewhere)}: not on the account's exchange; choose markets the account can trade.")
    return chosen


def _markets_top_check(count, markets, bad) -> int | None:
    """Top N by pair score: blank (every market), or a whole number from 1 to the markets chosen."""
    if count in (None, ""):
        return None
    if isinstance(count, str) and count.strip().isdigit():
        count = int(count)
    if not _is_id(count):
        bad("markets_top", f"Top N markets by score is a whole number from 1 (or blank for every market); got {count!r}.")
        return None
    if markets and count > len(markets):
        bad(
            "markets_top",
            f"Top {count} markets by score needs at least {count} markets; {len(markets)} chosen: "
            "choose more markets or a smaller N.",
        )
    return count


def _kind_params_check(kind, params, timeframe, bad) -> dict:
    from apps.engine.strategies.base import InvalidParamsError
    from apps.engine.strategies.registry import strategy_classes

    kinds = strategy_classes()
    if kind not in kinds:
        bad("kind", f"Choose a strategy kind among {', '.join(sorted(kinds))}; got {kind!r}.")
        return {}
    params = {} if params is None else params
    if not isinstance(params, dict):
        bad("params", 'Enter the parameters as a JSON object, e.g. {"fast": 9, "slow": 21}.')
        return {}
    try:
        params = kinds[kind].validate_params(params)
    except InvalidParamsError as exc:
        for name, message in exc.errors.items():
            bad("params", f"{name}: {message}")
        return {}
    entry = params.get("entry_timeframe")
    if entry and timeframe and entry != timeframe:
        bad("timeframe", f"This strategy's entry_timeframe is {entry}: run it on {entry} candles, or change the parameter.")
    return {"params": params}


def _data_available_check(markets, timeframe: str, bad) -> None:
    from apps.markets.models import CollectorStatus

    with_data = set(
        CollectorStatus.objects.filter(market__in=markets, timeframe=timeframe, last_candle_time__isnull=False).values_list(
            "market_id", flat=True
        )
    )
    missing = [market.symbol for market in markets if market.pk not in with_data]
    if missing:
        bad(
            "timeframe",
            f"No {timeframe} candles are collected for {', '.join(missing)}. "
            f"Add a collector for that timeframe under Markets > Collector statuses, or pick another timeframe.",
        )


def _allocation_fits_equity_check(cleaned: dict, bad) -> None:
    value, account = cleaned.get("allocation_value"), cleaned.get("account")
    if cleaned.get("allocation_type") == "quote" and value is not None and account is not None and _account_equity_reader:
        equity = _account_equity_reader(account=account)
        if value > equity:
            bad(
                "allocation_value",
                f"{number_text(value)} is more than the account's equity "
                f"({number_text(equity.quantize(Decimal('0.01')))}). Lower it, or use a % of equity.",
            )


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**63 - 1
