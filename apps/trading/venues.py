"""Two execution venues behind one interface. CcxtVenue is the real ccxt client (the simulated
exchange today, the live exchange tomorrow: the same code). PaperVenue fills against the latest
market data with the account's fee and a slippage model; its limit orders rest until the price
crosses. The order service never knows which one it talks to."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone

from apps.exchanges.breaker import account_service, breaker_call
from apps.exchanges.clients import call_exchange, call_with_retry, exchange_client
from apps.exchanges.errors import (
    InsufficientFundsError,
    InvalidOrderError,
    MalformedReplyError,
    OrderNotFoundError,
)
from apps.exchanges.models import ExchangeAccount
from apps.trading.amounts import quantize_amount
from apps.trading.models import Balance, Order, PaperSettings


@dataclass
class VenueTrade:
    trade_id: str
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_currency: str
    at: datetime


@dataclass
class VenueOrder:
    """What the venue says about an order (ccxt's unified status: open/closed/canceled/...)."""

    venue_order_id: str
    status: str
    filled: Decimal
    amount: Decimal
    average: Decimal | None = None
    trades: list[VenueTrade] = field(default_factory=list)
    trades_complete: bool = False  # True when `trades` is every trade of the order


@dataclass
class VenueOpenOrder:
    """An order open on the venue, ours or not (a trader may place one by hand)."""

    symbol: str
    venue_order_id: str
    client_order_id: str
    side: str
    type: str
    amount: Decimal
    filled: Decimal
    price: Decimal | None


# ccxt's unified order statuses ("canceling": Binance's PENDING_CANCEL).
KNOWN_STATUSES = frozenset({"open", "closed", "canceled", "canceling", "expired", "rejected"})


def _dec(value) -> Decimal | None:
    if value is None:
        return None
    return Decimal(value if isinstance(value, str) else repr(value))


def _ms_time(ms) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else timezone.now()


class CcxtVenue:
    def __init__(self, account: ExchangeAccount):
        self.account = account
        self.client = exchange_client(account)
        self.service = account_service(account.pk)

    def _once(self, call):
        """One call, never retried (an order create), through the account's circuit breaker."""
        return breaker_call(self.service, lambda: call_exchange(call))

    def _retried(self, call, *, attempts: int = 4):
        """An idempotent read, retried; the retries' failure counts once for the breaker."""
        return breaker_call(self.service, lambda: call_with_retry(call, attempts=attempts))

    def _markets(self):
        if not self.client.markets:
            self._retried(self.client.load_markets, attempts=2)

    def order_create(self, order: Order) -> VenueOrder:
        """Called once per order: ccxt never retries (maxRetriesOnFailure=0), nor do we. The exact
        Decimal amount and price are sent (not ccxt's float rounding): what we record is what the
        exchange saw, and an amount off the exchange's step is refused by the exchange itself."""
        self._markets()
        price = float(order.price) if order.type == Order.Type.LIMIT else None
        params = {"newClientOrderId": order.client_order_id, "quantity": f"{order.amount:f}"}
        if price is not None:
            params["price"] = f"{order.price:f}"
        raw = self._once(
            lambda: self.client.create_order(order.market.symbol, order.type, order.side, float(order.amount), price, params)
        )
        return self._parse(raw, order)

    def order_fetch(self, order: Order) -> VenueOrder:
        """By client_order_id (the only id we have when the create's reply was lost)."""
        self._markets()
        raw = self._once(lambda: self.client.fetch_order(None, order.market.symbol, {"origClientOrderId": order.client_order_id}))
        return self._parse(raw, order)

    def order_cancel(self, order: Order) -> VenueOrder:
        self._markets()
        raw = self._once(
            lambda: self.client.cancel_order(None, order.market.symbol, {"origClientOrderId": order.client_order_id})
        )
        return self._parse(raw, order)

    def trades_fetch(self, order: Order, venue_order_id: str) -> list[VenueTrade]:
        raw = self._retried(lambda: self.client.fetch_my_trades(order.market.symbol, params={"orderId": venue_order_id}))
        return [self._trade(trade) for trade in raw if str(trade.get("order")) == venue_order_id]

    def open_orders_fetch(self, symbols: list[str]) -> list[VenueOpenOrder]:
        """Every order open on the exchange in these markets (one call each: Binance charges a
        call without a symbol for every market it has)."""
        self._markets()
        found = []
        for symbol in symbols:
            found += self._retried(lambda symbol=symbol: self.client.fetch_open_orders(symbol), attempts=2)
        return [self._open_order(raw) for raw in found]

    def balances_fetch(self) -> dict[str, tuple[Decimal, Decimal]]:
        raw = self._retried(self.client.fetch_balance)
        return {
            asset: (_dec(raw["free"].get(asset)) or Decimal(0), _dec(raw["used"].get(asset)) or Decimal(0))
            for asset in raw.get("total", {})
        }

    def last_price(self, symbol: str) -> Decimal | None:
        ticker = self._retried(lambda: self.client.fetch_ticker(symbol), attempts=2)
        return _dec(ticker.get("last"))

    def _parse(self, raw: dict, order: Order) -> VenueOrder:
        """What the exchange says about the order. A reply without the exchange's order id and one
        of ccxt's known statuses is not an answer about the order (ccxt turns a 200 with `not json`,
        `null` or `{"unexpected": true}` into an order of Nones): MalformedReplyError, so the order
        service treats its outcome as unknown and looks the order up, never as acknowledged."""
        venue_order_id, status = str(raw.get("id") or ""), raw.get("status")
        if not venue_order_id or status not in KNOWN_STATUSES:
            raise MalformedReplyError(
                f"Malformed exchange reply about {order.client_order_id}: "
                f"order id {venue_order_id or 'missing'}, status {status or 'missing'}"
            )
        trades = [self._trade(trade) for trade in raw.get("trades") or [] if trade.get("id")]
        filled = _dec(raw.get("filled")) or Decimal(0)
        return VenueOrder(
            venue_order_id=venue_order_id,
            status=status,
            filled=filled,
            amount=_dec(raw.get("amount")) or order.amount,
            average=_dec(raw.get("average")),
            trades=trades,
            trades_complete=sum((t.amount for t in trades), Decimal(0)) >= filled,
        )

    @staticmethod
    def _open_order(raw: dict) -> VenueOpenOrder:
        return VenueOpenOrder(
            symbol=raw["symbol"],
            venue_order_id=str(raw["id"]),
            client_order_id=raw.get("clientOrderId") or "",
            side=raw.get("side") or "",
            type=raw.get("type") or "",
            amount=_dec(raw.get("amount")) or Decimal(0),
            filled=_dec(raw.get("filled")) or Decimal(0),
            price=_dec(raw.get("price")),
        )

    @staticmethod
    def _trade(trade: dict) -> VenueTrade:
        fee = trade.get("fee") or {}
        return VenueTrade(
            trade_id=str(trade["id"]),
            price=_dec(trade["price"]),
            amount=_dec(trade["amount"]),
            fee=_dec(fee.get("cost")) or Decimal(0),
            fee_currency=fee.get("currency") or "",
            at=_ms_time(trade.get("timestamp")),
        )


class PaperVenue:
    """Fills in the desk's own book. The fee is charged in quote; slippage makes market orders
    fill `slippage_bps` worse than the last price."""

    def __init__(self, account: ExchangeAccount):
        self.account = account
        self.settings, _ = PaperSettings.objects.get_or_create(account=account)

    def order_create(self, order: Order) -> VenueOrder:
        from apps.trading.selectors import last_price

        price = last_price(market=order.market)
        if price is None:
            raise InvalidOrderError(f"paper broker: no market price for {order.market.symbol} yet")
        if order.amount * price < order.market.min_notional:
            raise InvalidOrderError(
                f"paper broker: order value {order.amount * price:.2f} is below the minimum notional {order.market.min_notional}"
            )
        venue_id = f"paper-{order.pk}"
        if order.type == Order.Type.LIMIT and not self.crosses(order, price):
            return VenueOrder(venue_id, "open", Decimal(0), order.amount)
        fill_price = self._fill_price(order, price)
        self._check_funds(order, fill_price)
        return self.filled_report(order, venue_id, fill_price)

    def crosses(self, order: Order, price: Decimal) -> bool:
        return price <= order.price if order.side == "buy" else price >= order.price

    def filled_report(self, order: Order, venue_id: str, price: Decimal) -> VenueOrder:
        fee = (order.amount * price * self.settings.fee_rate).quantize(Decimal("1e-12"))
        trade = VenueTrade(f"{venue_id}-1", price, order.amount, fee, order.market.quote, timezone.now())
        return VenueOrder(venue_id, "closed", order.amount, order.amount, price, [trade], trades_complete=True)

    def _fill_price(self, order: Order, price: Decimal) -> Decimal:
        if order.type == Order.Type.LIMIT:
            return order.price
        slip = price * self.settings.slippage_bps / Decimal(10_000)
        raw = price + slip if order.side == "buy" else price - slip
        return quantize_amount(raw, order.market.price_precision)

    def _check_funds(self, order: Order, price: Decimal) -> None:
        market = order.market
        asset, needed = (
            (market.quote, order.amount * price * (1 + self.settings.fee_rate))
            if order.side == "buy"
            else (market.base, order.amount)
        )
        balance = Balance.objects.filter(account=self.account, asset=asset).first()
        have = balance.free if balance else Decimal(0)
        if have < needed:
            raise InsufficientFundsError(f"paper broker: insufficient balance: {needed:.8f} {asset} needed, {have:.8f} free")

    def order_fetch(self, order: Order) -> VenueOrder:
        """The paper book is our own database: an order it booked has its venue id stored."""
        order.refresh_from_db()
        if not order.venue_order_id:
            raise OrderNotFoundError(f"paper broker: no order {order.client_order_id}")
        status = {"filled": "closed", "canceled": "canceled", "expired": "expired"}.get(order.status, "open")
        return VenueOrder(order.venue_order_id, status, order.filled, order.amount, order.average_price)

    def order_cancel(self, order: Order) -> VenueOrder:
        return VenueOrder(order.venue_order_id, "canceled", order.filled, order.amount, order.average_price)

    def trades_fetch(self, order: Order, venue_order_id: str) -> list[VenueTrade]:
        return []

    def open_orders_fetch(self, symbols: list[str]) -> list[VenueOpenOrder]:
        """The paper book's resting orders are the account's own open orders."""
        resting = (
            Order.objects.filter(account=self.account, market__symbol__in=symbols, status__in=["open", "partially_filled"])
            .exclude(venue_order_id="")
            .select_related("market")
        )
        return [
            VenueOpenOrder(
                order.market.symbol,
                order.venue_order_id,
                order.client_order_id,
                order.side,
                order.type,
                order.amount,
                order.filled,
                order.price,
            )
            for order in resting
        ]

    def balances_fetch(self):
        return None  # the paper book IS the balance

    def last_price(self, symbol: str) -> Decimal | None:
        return None  # paper accounts read prices from the market data collectors


def venue_for(account: ExchangeAccount):
    return PaperVenue(account) if account.mode == ExchangeAccount.Mode.PAPER else CcxtVenue(account)
