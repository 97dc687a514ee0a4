"""The Binance spot REST endpoints (thin: parse, call the engine, render)."""

from __future__ import annotations

import json

from aiohttp import web

from apps.simexchange import marketdata, payloads
from apps.simexchange.errors import BinanceError, bad_param
from apps.simexchange.keys import ACCOUNT, PARAMS, SIM
from apps.simexchange.markets import exchange_info
from apps.simexchange.matching import OrderRequest
from apps.simexchange.params import choice, client_order_id, decimal_param, int_param, required, symbol_rules
from apps.simexchange.state import Account

routes = web.RouteTableDef()


def _sim(request: web.Request):
    return request.app[SIM]


def _json(data) -> web.Response:
    return web.Response(text=json.dumps(data, separators=(",", ":")), content_type="application/json")


# ---- public ------------------------------------------------------------------------------


@routes.get("/api/v3/ping")
async def ping(request):
    return _json({})


@routes.get("/api/v3/time")
async def server_time(request):
    return _json({"serverTime": _sim(request).clock.now_ms()})


@routes.get("/sapi/v1/system/status")
async def system_status(request):
    return _json({"status": 0, "msg": "normal"})


@routes.get("/api/v3/exchangeInfo")
async def exchange_information(request):
    sim = _sim(request)
    return _json(exchange_info(sim.rules, sim.clock.now_ms()))


@routes.get("/api/v3/klines")
@routes.get("/api/v3/uiKlines")
async def klines(request):
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id)
    interval = required(params, "interval")
    with sim.state.lock:
        rows = marketdata.klines(
            sim.market,
            rules,
            interval=interval,
            start=int_param(params, "startTime"),
            end=int_param(params, "endTime"),
            limit=int_param(params, "limit", marketdata.DEFAULT_KLINES),
            now_ms=sim.clock.now_ms(),
            history_start_ms=sim.history_start_ms,
        )
    return _json(rows)


def _for_symbols(request, render):
    """Binance answers one object for ?symbol=X and a list without it."""
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id, required_=False)
    with sim.state.lock:
        if rules is not None:
            return _json(render(sim, rules))
        wanted = params.get("symbols")
        ids = json.loads(wanted) if wanted else list(sim.rules_by_id)
        if any(i not in sim.rules_by_id for i in ids):
            raise BinanceError(400, -1121, "Invalid symbol.")
        return _json([render(sim, sim.rules_by_id[i]) for i in ids])


@routes.get("/api/v3/ticker/24hr")
async def ticker_24hr(request):
    return _for_symbols(
        request,
        lambda sim, rules: marketdata.ticker_24hr(
            sim.market, rules, now_ms=sim.clock.now_ms(), last_price=sim.engine.price_now(rules.symbol)
        ),
    )


@routes.get("/api/v3/ticker/price")
async def ticker_price(request):
    return _for_symbols(
        request, lambda sim, rules: {"symbol": rules.market_id, "price": rules.price_text(sim.engine.price_now(rules.symbol))}
    )


@routes.get("/api/v3/ticker/bookTicker")
async def book_ticker(request):
    return _for_symbols(request, lambda sim, rules: marketdata.book_ticker(rules, sim.engine.price_now(rules.symbol)))


@routes.get("/api/v3/avgPrice")
async def avg_price(request):
    sim = _sim(request)
    rules = symbol_rules(request[PARAMS], sim.rules_by_id)
    return _json({"mins": 5, "price": rules.price_text(sim.engine.price_now(rules.symbol)), "closeTime": sim.clock.now_ms()})


@routes.get("/api/v3/depth")
async def order_book(request):
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id)
    price = sim.engine.price_now(rules.symbol)
    return _json(marketdata.depth(rules, price, limit=int_param(params, "limit", 100), update_id=sim.clock.now_ms()))


# ---- private (signed) ----------------------------------------------------------------------


def _account(request) -> Account:
    return request[ACCOUNT]


@routes.get("/api/v3/account")
async def account_information(request):
    sim = _sim(request)
    with sim.state.lock:
        return _json(
            payloads.account_json(
                _account(request),
                maker_bps=int(sim.engine.fees.maker * 10000),
                taker_bps=int(sim.engine.fees.taker * 10000),
                now_ms=sim.clock.now_ms(),
            )
        )


def _order_request(params: dict, rules) -> OrderRequest:
    side = choice(params, "side", ("BUY", "SELL"), -1117, "Invalid side.")
    order_type = choice(params, "type", ("MARKET", "LIMIT", "LIMIT_MAKER"), -1116, "Invalid orderType.")
    quantity = decimal_param(params, "quantity")
    quote_qty = decimal_param(params, "quoteOrderQty")
    price, time_in_force = None, None
    if order_type == "MARKET":
        if (quantity is None) == (quote_qty is None):
            raise bad_param("Param 'quantity' or 'quoteOrderQty' must be sent, but not both.")
    else:
        quantity = decimal_param(params, "quantity", required_=True)
        price = decimal_param(params, "price", required_=True)
        if order_type == "LIMIT":
            time_in_force = choice(params, "timeInForce", ("GTC",), -1115, "Invalid timeInForce.")
    return OrderRequest(
        symbol=rules.symbol,
        side=side,
        type=order_type,
        quantity=quantity,
        quote_qty=quote_qty,
        price=price,
        time_in_force=time_in_force,
        client_order_id=client_order_id(params),
    )


@routes.post("/api/v3/order")
async def order_create(request):
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id)
    order, trades = sim.engine.order_place(_account(request), _order_request(params, rules))
    hold = sim.faults.drop_take()
    if hold is not None:  # booked, but the client never hears about it
        await sim.connection_hold(request, hold)
    garbled = sim.faults.garble_take()
    if garbled is not None:  # booked, but the answer is not an order
        return web.Response(status=200, text=garbled, content_type="application/json")
    kind = (params.get("newOrderRespType") or "FULL").upper()
    with sim.state.lock:
        if kind == "ACK":
            return _json(
                {
                    "symbol": rules.market_id,
                    "orderId": order.order_id,
                    "orderListId": -1,
                    "clientOrderId": order.client_order_id,
                    "transactTime": order.time,
                }
            )
        body = payloads.order_ack_full(order, trades if kind == "FULL" else [], rules)
        if kind == "RESULT":
            body.pop("fills")
        return _json(body)


@routes.post("/api/v3/order/test")
async def order_test(request):
    rules = symbol_rules(request[PARAMS], _sim(request).rules_by_id)
    _order_request(request[PARAMS], rules)
    return _json({})


def _order_ref(params: dict) -> tuple[int | None, str | None]:
    order_id, client_id = int_param(params, "orderId"), params.get("origClientOrderId") or None
    if order_id is None and client_id is None:
        raise bad_param("Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    return order_id, client_id


@routes.get("/api/v3/order")
async def order_query(request):
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id)
    order_id, client_id = _order_ref(params)
    with sim.state.lock:
        order = sim.engine.order_find(_account(request), symbol=rules.symbol, order_id=order_id, client_order_id=client_id)
        return _json(payloads.order_status(order, rules))


@routes.delete("/api/v3/order")
async def order_cancel(request):
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id)
    order_id, client_id = _order_ref(params)
    with sim.state.lock:
        order = sim.engine.order_cancel(_account(request), symbol=rules.symbol, order_id=order_id, client_order_id=client_id)
        return _json(payloads.order_canceled(order, rules, client_order_id(params)))


@routes.get("/api/v3/openOrders")
async def open_orders(request):
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id, required_=False)
    with sim.state.lock:
        orders = [o for o in _account(request).orders.values() if o.is_open and (rules is None or o.symbol == rules.symbol)]
        return _json([payloads.order_status(o, sim.rules[o.symbol]) for o in orders])


@routes.delete("/api/v3/openOrders")
async def open_orders_cancel(request):
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id)
    account = _account(request)
    with sim.state.lock:
        orders = [o for o in account.orders.values() if o.is_open and o.symbol == rules.symbol]
        canceled = [
            sim.engine.order_cancel(account, symbol=rules.symbol, order_id=o.order_id, client_order_id=None) for o in orders
        ]
        return _json([payloads.order_canceled(o, rules, client_order_id({})) for o in canceled])


def _windowed(items, params, *, time_of, id_of, id_param):
    start, end = int_param(params, "startTime"), int_param(params, "endTime")
    from_id = int_param(params, id_param)
    limit = int_param(params, "limit", 500)
    if not 1 <= limit <= 1000:
        raise bad_param("Param 'limit' must be between 1 and 1000.")
    chosen = [
        i
        for i in items
        if (start is None or time_of(i) >= start)
        and (end is None or time_of(i) <= end)
        and (from_id is None or id_of(i) >= from_id)
    ]
    return chosen[:limit] if (start is not None or from_id is not None) else chosen[-limit:]


@routes.get("/api/v3/allOrders")
async def all_orders(request):
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id)
    with sim.state.lock:
        orders = sorted((o for o in _account(request).orders.values() if o.symbol == rules.symbol), key=lambda o: o.order_id)
        chosen = _windowed(orders, params, time_of=lambda o: o.time, id_of=lambda o: o.order_id, id_param="orderId")
        return _json([payloads.order_status(o, rules) for o in chosen])


@routes.get("/api/v3/myTrades")
async def my_trades(request):
    sim, params = _sim(request), request[PARAMS]
    rules = symbol_rules(params, sim.rules_by_id)
    order_id = int_param(params, "orderId")
    with sim.state.lock:
        trades = [
            t for t in _account(request).trades if t.symbol == rules.symbol and (order_id is None or t.order_id == order_id)
        ]
        chosen = _windowed(trades, params, time_of=lambda t: t.time, id_of=lambda t: t.trade_id, id_param="fromId")
        return _json([payloads.trade_json(t, rules) for t in chosen])


PRIVATE_PATHS = {
    "/api/v3/account",
    "/api/v3/order",
    "/api/v3/order/test",
    "/api/v3/openOrders",
    "/api/v3/allOrders",
    "/api/v3/myTrades",
}
