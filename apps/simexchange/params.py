"""Reading Binance request parameters: clear -1100/-1102 errors instead of tracebacks."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from apps.simexchange.errors import BinanceError, bad_param, illegal_chars, invalid_symbol
from apps.simexchange.markets import MarketRules

_NUMBER = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


def required(params: dict, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise bad_param(f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def decimal_param(params: dict, name: str, *, required_: bool = False) -> Decimal | None:
    value = required(params, name) if required_ else params.get(name)
    if value is None or value == "":
        return None
    if not _NUMBER.match(value):
        raise illegal_chars(name)
    return Decimal(value)


def int_param(params: dict, name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if not re.fullmatch(r"-?[0-9]{1,20}", value):
        raise illegal_chars(name)
    return int(value)


def symbol_rules(params: dict, rules_by_id: dict[str, MarketRules], *, required_: bool = True) -> MarketRules | None:
    market_id = required(params, "symbol") if required_ else params.get("symbol")
    if market_id is None:
        return None
    rules = rules_by_id.get(market_id.upper())
    if rules is None:
        raise invalid_symbol()
    return rules


def choice(params: dict, name: str, options: tuple[str, ...], code: int, message: str) -> str:
    value = required(params, name).upper()
    if value not in options:
        raise BinanceError(400, code, message)
    return value


def client_order_id(params: dict, name: str = "newClientOrderId") -> str:
    value = params.get(name)
    if value is None or value == "":
        return "sim" + uuid.uuid4().hex[:22]
    if not _CLIENT_ID.match(value):
        raise illegal_chars(name)
    return value
