"""The matching engine: orders against the synthetic market, Binance filters, fees, balances.

Simplifications (documented, on purpose): an order fills all at once (no partial fills);
MARKET orders and marketable LIMIT orders fill at the current price moved against the
taker by `slippage_bps`; resting LIMIT orders fill at their limit price (maker fee) as soon
as the price path touched it since they were last checked. The commission is taken from
the asset received, as Binance does without BNB.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from apps.engine.market_sim import MarketSim
from apps.simexchange import errors
from apps.simexchange.clock import SimClock
from apps.simexchange.markets import MarketRules
from apps.simexchange.state import ZERO, Account, ExchangeState, Order, Trade

EIGHT = Decimal("0.00000001")
BPS = Decimal("0.0001")


@dataclass(frozen=True)
class FeeModel:
    taker: Decimal = Decimal("0.001")
    maker: Decimal = Decimal("0.001")
    slippage_bps: Decimal = Decimal("2")


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: str
    type: str
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    time_in_force: str | None
    client_order_id: str


class MatchingEngine:
    def __init__(
        self, *, state: ExchangeState, market: MarketSim, rules: dict[str, MarketRules], clock: SimClock, fees: FeeModel
    ):
        self.state, self.market, self.rules, self.clock, self.fees = state, market, rules, clock, fees
        self.price_overrides: dict[str, Decimal] = {}  # test hook: pin a symbol's price

    # ---- prices ----------------------------------------------------------------------------

    def price_now(self, symbol: str, now_ms: int | None = None) -> Decimal:
        with self.state.lock:
            if symbol in self.price_overrides:
                return self.price_overrides[symbol]
            now_ms = self.clock.now_ms() if now_ms is None else now_ms
            return self.rules[symbol].price_round(self.market.price_at(symbol, now_ms))

    def _taker_price(self, symbol: str, side: str, now_ms: int) -> Decimal:
        slip = self.fees.slippage_bps * BPS
        factor = 1 + slip if side == "BUY" else 1 - slip
        return self.rules[symbol].price_round(self.price_now(symbol, now_ms) * factor)

    def _range_since(self, symbol: str, start_ms: int, now_ms: int) -> tuple[Decimal, Decimal]:
        if symbol in self.price_overrides:
            pinned = self.price_overrides[symbol]
            return pinned, pinned
        low, high = self.market.price_range(symbol, min(start_ms, now_ms), now_ms)
        rules = self.rules[symbol]
        return rules.price_round(low), rules.price_round(high)

    # ---- orders ----------------------------------------------------------------------------

    def order_place(self, account: Account, request: OrderRequest) -> tuple[Order, list[Trade]]:
        with self.state.lock:
            now = self.clock.now_ms()
            rules = self.rules[request.symbol]
            if any(o.is_open for o in account.orders_by_client_id(request.client_order_id)):
                raise errors.duplicate_order()
            order, taker_price = self._order_new(account, request, rules, now)
            if request.type == "MARKET":
                trades = self._fill(account, order, taker_price, now, maker=False)
            else:
                trades = self._limit_place(account, order, rules, now)
            return order, trades

    def _order_new(self, account: Account, request: OrderRequest, rules: MarketRules, now: int) -> tuple[Order, Decimal]:
        if request.type == "MARKET":
            price = self._taker_price(request.symbol, request.side, now)
            qty = request.quantity
            if qty is None:
                qty = rules.qty_floor(request.quote_qty / price)
        else:
            price, qty = request.price, request.quantity
            self._check_price_filter(rules, price)
        self._check_lot_size(rules, qty, market=request.type == "MARKET")
        if qty * price < rules.min_notional:
            raise errors.filter_failure("NOTIONAL")
        order = Order(
            order_id=0,
            api_key=account.api_key,
            symbol=request.symbol,
            client_order_id=request.client_order_id,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            price=price,
            orig_qty=qty,
            orig_quote_qty=request.quote_qty or ZERO,
            time=now,
            update_time=now,
            checked_ms=now,
        )
        self._check_funds(account, order, rules)
        order.order_id = self.state.order_id_take()
        account.orders[order.order_id] = order
        if request.type == "MARKET":
            order.price = ZERO  # Binance reports price 0 on market orders
        return order, price

    @staticmethod
    def _check_price_filter(rules: MarketRules, price: Decimal) -> None:
        if price < rules.min_price or price > rules.max_price or price % rules.tick_size != 0:
            raise errors.filter_failure("PRICE_FILTER")

    @staticmethod
    def _check_lot_size(rules: MarketRules, qty: Decimal, *, market: bool) -> None:
        if qty < rules.min_qty or qty > rules.max_qty or qty % rules.step_size != 0:
            raise errors.filter_failure("MARKET_LOT_SIZE" if market and qty > rules.max_qty else "LOT_SIZE")

    @staticmethod
    def _check_funds(account: Account, order: Order, rules: MarketRules) -> None:
        if order.side == "BUY":
            need, asset = (order.orig_qty * order.price).quantize(EIGHT), rules.quote
        else:
            need, asset = order.orig_qty, rules.base
        if account.free.get(asset, ZERO) < need:
            raise errors.insufficient_balance()

    def _limit_place(self, account: Account, order: Order, rules: MarketRules, now: int) -> list[Trade]:
        market_price = self._taker_price(order.symbol, order.side, now)
        marketable = market_price <= order.price if order.side == "BUY" else market_price >= order.price
        if marketable and order.type == "LIMIT_MAKER":
            del account.orders[order.order_id]
            raise errors.BinanceError(400, -2010, "Order would immediately match and take.")
        if marketable:
            return self._fill(account, order, market_price, now, maker=False)
        if order.side == "BUY":
            order.locked_asset, order.locked_amount = rules.quote, (order.orig_qty * order.price).quantize(EIGHT)
        else:
            order.locked_asset, order.locked_amount = rules.base, order.orig_qty
        account.lock(order.locked_asset, order.locked_amount)
        return []

    def _fill(self, account: Account, order: Order, price: Decimal, now: int, *, maker: bool) -> list[Trade]:
        rules = self.rules[order.symbol]
        qty = order.orig_qty
        quote = (qty * price).quantize(EIGHT)
        rate = self.fees.maker if maker else self.fees.taker
        if order.locked_amount:
            account.unlock(order.locked_asset, order.locked_amount, spend=True)
            if order.side == "BUY":
                account.balance_add(rules.quote, order.locked_amount - quote)  # price improvement back
            order.locked_amount = ZERO
        elif order.side == "BUY":
            account.balance_add(rules.quote, -quote)
        else:
            account.balance_add(rules.base, -qty)
        if order.side == "BUY":
            commission, asset = (qty * rate).quantize(EIGHT, ROUND_DOWN), rules.base
            account.balance_add(rules.base, qty - commission)
        else:
            commission, asset = (quote * rate).quantize(EIGHT, ROUND_DOWN), rules.quote
            account.balance_add(rules.quote, quote - commission)
        order.executed_qty, order.cumm_quote_qty = qty, quote
        order.status, order.update_time = "FILLED", now
        trade = Trade(
            trade_id=self.state.trade_id_take(),
            order_id=order.order_id,
            symbol=order.symbol,
            price=price,
            qty=qty,
            quote_qty=quote,
            commission=commission,
            commission_asset=asset,
            time=now,
            is_buyer=order.side == "BUY",
            is_maker=maker,
        )
        account.trades.append(trade)
        return [trade]

    def order_find(self, account: Account, *, symbol: str, order_id: int | None, client_order_id: str | None) -> Order:
        with self.state.lock:
            if order_id is not None:
                order = account.orders.get(order_id)
                if order is None or order.symbol != symbol:
                    raise errors.unknown_order()
                return order
            matches = account.orders_by_client_id(client_order_id or "", symbol)
            if not matches:
                raise errors.unknown_order()
            return max(matches, key=lambda o: o.order_id)  # a reused id finds the latest order

    def order_cancel(self, account: Account, *, symbol: str, order_id: int | None, client_order_id: str | None) -> Order:
        with self.state.lock:
            try:
                order = self.order_find(account, symbol=symbol, order_id=order_id, client_order_id=client_order_id)
            except errors.BinanceError:
                raise errors.cancel_unknown_order() from None
            if not order.is_open:
                raise errors.cancel_unknown_order()
            account.unlock(order.locked_asset, order.locked_amount)
            order.locked_amount = ZERO
            order.status, order.update_time = "CANCELED", self.clock.now_ms()
            return order

    def resting_match(self) -> int:
        """Fill every resting LIMIT order the price has reached since its last check."""
        filled = 0
        with self.state.lock:
            now = self.clock.now_ms()
            for account in self.state.accounts.values():
                for order in [o for o in account.orders.values() if o.is_open]:
                    low, high = self._range_since(order.symbol, order.checked_ms, now)
                    order.checked_ms = now
                    reached = low <= order.price if order.side == "BUY" else high >= order.price
                    if reached:
                        self._fill(account, order, order.price, now, maker=True)
                        filled += 1
        return filled
