"""Control endpoints under /sim/ (unsigned, loopback only): accounts, faults, clock, prices.

POST /sim/accounts            {"api_key", "secret", "balances": {"USDT": "100000"}}  (idempotent)
GET  /sim/accounts/{api_key}  balances (free / locked)
POST /sim/accounts/{api_key}/balance  {"asset": "BTC", "free": "0.5"}  (a deposit / withdrawal outside the desk)
POST /sim/accounts/{api_key}/trade    {"symbol": "BTC/USDT", "side": "sell", "amount": "0.01"}
                              a market order "by hand" (as the exchange's own web page would place it;
                              its client order id starts with HAND_PREFIX)
GET  /sim/orders[?api_key=&status=]
GET  /sim/status              clock, seed, symbols, faults
GET  /sim/faults
POST /sim/faults/error        {"status": 503, "code": -1001?, "msg"?, "count": 1, "path"?, "method"?}
POST /sim/faults/latency      {"ms": 800, "count": null (= until reset), "path"?}
POST /sim/faults/drop         {"count": 1, "hold_seconds": 30}
POST /sim/faults/garble       {"count": 1, "text": "not json"}  (booked, answered 200 with that body)
POST /sim/faults/down         {"seconds": 10, "mode": "503" | "reset"}
POST /sim/reset               clear faults and pinned prices
POST /sim/clock               {"advance_seconds": 3600}
POST /sim/price               {"symbol": "BTC/USDT", "price": "59000" | null}
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from aiohttp import web

from apps.simexchange.errors import BinanceError
from apps.simexchange.faults import ErrorFault, LatencyFault
from apps.simexchange.keys import SIM
from apps.simexchange.payloads import order_json_for_control

routes = web.RouteTableDef()


class ControlError(Exception):
    pass


async def _body(request) -> dict:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except json.JSONDecodeError:
        raise ControlError("the body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError("the body must be a JSON object")
    return data


def _decimal(value, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ControlError(f"{name} must be a number, got {value!r}") from None
    if not result.is_finite() or result < 0:
        raise ControlError(f"{name} must be a non-negative number, got {value!r}")
    return result


def _balances_json(account) -> dict:
    assets = sorted(set(account.free) | set(account.locked))
    return {a: {"free": str(account.free.get(a, 0)), "locked": str(account.locked.get(a, 0))} for a in assets}


@routes.post("/sim/accounts")
async def account_create(request):
    sim, data = request.app[SIM], await _body(request)
    balances = data.get("balances")
    if balances is not None:
        if not isinstance(balances, dict):
            raise ControlError('balances must be an object like {"USDT": "100000"}')
        balances = {asset: _decimal(amount, f"balance {asset}") for asset, amount in balances.items()}
    try:
        account = sim.account_create(api_key=str(data.get("api_key", "")), secret=str(data.get("secret", "")), balances=balances)
    except ValueError as error:
        raise ControlError(str(error)) from None
    return web.json_response({"api_key": account.api_key, "balances": _balances_json(account)})


@routes.get("/sim/accounts/{api_key}")
async def account_show(request):
    sim = request.app[SIM]
    with sim.state.lock:
        account = sim.state.accounts.get(request.match_info["api_key"])
        if account is None:
            return web.json_response({"error": "no such account"}, status=404)
        return web.json_response({"api_key": account.api_key, "balances": _balances_json(account)})


def _account_of(sim, request):
    account = sim.state.accounts.get(request.match_info["api_key"])
    if account is None:
        raise ControlError(f"no account {request.match_info['api_key']!r}")
    return account


@routes.post("/sim/accounts/{api_key}/balance")
async def balance_set(request):
    sim, data = request.app[SIM], await _body(request)
    asset = str(data.get("asset", "")).upper()
    if not asset:
        raise ControlError('name the asset: {"asset": "BTC", "free": "0.5"}')
    free = _decimal(data.get("free"), "free")
    with sim.state.lock:
        account = _account_of(sim, request)
        sim.balance_set(account.api_key, asset, free)
        return web.json_response({"api_key": account.api_key, "balances": _balances_json(account)})


@routes.post("/sim/accounts/{api_key}/trade")
async def trade_by_hand(request):
    sim, data = request.app[SIM], await _body(request)
    side = str(data.get("side", "")).lower()
    if side not in ("buy", "sell"):
        raise ControlError(f"side must be buy or sell, got {data.get('side')!r}")
    symbol = data.get("symbol")
    if symbol not in sim.rules:
        raise ControlError(f"unknown symbol {symbol!r}; use one of {', '.join(sim.rules)}")
    amount = _decimal(data.get("amount"), "amount")
    with sim.state.lock:
        account = _account_of(sim, request)
        try:
            order, trades = sim.trade_by_hand(account.api_key, symbol=symbol, side=side, amount=amount)
        except BinanceError as error:
            return web.json_response({"error": error.msg, "code": error.code}, status=400)
        return web.json_response(
            {
                "order": order_json_for_control(order),
                "trades": [{"trade_id": t.trade_id, "price": str(t.price), "qty": str(t.qty)} for t in trades],
                "balances": _balances_json(account),
            }
        )


@routes.get("/sim/orders")
async def orders_list(request):
    sim = request.app[SIM]
    status = request.query.get("status")
    orders = [o for o in sim.state.orders_all(request.query.get("api_key")) if status is None or o.status == status]
    return web.json_response({"orders": [order_json_for_control(o) for o in orders]})


@routes.get("/sim/status")
async def status(request):
    sim = request.app[SIM]
    return web.json_response(
        {
            "url": sim.url,
            "now": sim.clock.now_ms(),
            "speed": sim.clock.speed,
            "seed": sim.market.seed,
            "symbols": list(sim.rules),
            "history_start": sim.history_start_ms,
            "faults": sim.faults.describe(),
        }
    )


@routes.get("/sim/faults")
async def faults_show(request):
    return web.json_response(request.app[SIM].faults.describe())


def _int(data: dict, name: str, default=None, *, allow_none: bool = False):
    value = data.get(name, default)
    if value is None and allow_none:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(f"{name} must be an integer, got {value!r}") from None


@routes.post("/sim/faults/error")
async def fault_error(request):
    data = await _body(request)
    fault = ErrorFault(
        status=_int(data, "status", 500),
        code=_int(data, "code", None, allow_none=True),
        msg=str(data.get("msg", "")),
        remaining=_int(data, "count", 1),
        path=data.get("path"),
        method=data.get("method"),
        text=data.get("text"),
    )
    request.app[SIM].faults.error_add(fault)
    return web.json_response(request.app[SIM].faults.describe())


@routes.post("/sim/faults/latency")
async def fault_latency(request):
    data = await _body(request)
    fault = LatencyFault(ms=_int(data, "ms", 0), remaining=_int(data, "count", None, allow_none=True), path=data.get("path"))
    request.app[SIM].faults.latency_add(fault)
    return web.json_response(request.app[SIM].faults.describe())


@routes.post("/sim/faults/drop")
async def fault_drop(request):
    data = await _body(request)
    request.app[SIM].faults.drop_add(_int(data, "count", 1), float(_decimal(data.get("hold_seconds", 30), "hold_seconds")))
    return web.json_response(request.app[SIM].faults.describe())


@routes.post("/sim/faults/garble")
async def fault_garble(request):
    data = await _body(request)
    request.app[SIM].faults.garble_add(_int(data, "count", 1), str(data.get("text", "not json")))
    return web.json_response(request.app[SIM].faults.describe())


@routes.post("/sim/faults/down")
async def fault_down(request):
    data = await _body(request)
    request.app[SIM].faults.down_for(float(_decimal(data.get("seconds", 10), "seconds")), str(data.get("mode", "503")))
    return web.json_response(request.app[SIM].faults.describe())


@routes.post("/sim/reset")
async def reset(request):
    sim = request.app[SIM]
    sim.faults.reset()
    with sim.state.lock:
        sim.engine.price_overrides.clear()
    return web.json_response(sim.faults.describe())


@routes.post("/sim/clock")
async def clock_advance(request):
    sim, data = request.app[SIM], await _body(request)
    now = sim.clock.advance(float(_decimal(data.get("advance_seconds", 0), "advance_seconds")))
    return web.json_response({"now": now})


@routes.post("/sim/price")
async def price_pin(request):
    sim, data = request.app[SIM], await _body(request)
    symbol = data.get("symbol")
    if symbol not in sim.rules:
        raise ControlError(f"unknown symbol {symbol!r}; use one of {', '.join(sim.rules)}")
    price = None if data.get("price") is None else _decimal(data["price"], "price")
    sim.price_pin(symbol, price)
    return web.json_response({"symbol": symbol, "price": str(sim.engine.price_now(symbol))})
