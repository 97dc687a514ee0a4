"""Orders, trades and accounts rendered exactly as Binance's spot REST API renders them."""

from __future__ import annotations

import zlib

from apps.simexchange.markets import MarketRules, amount_text
from apps.simexchange.state import ZERO, Account, Order, Trade


def _order_common(order: Order, rules: MarketRules) -> dict:
    return {
        "symbol": rules.market_id,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": amount_text(order.price),
        "origQty": amount_text(order.orig_qty),
        "executedQty": amount_text(order.executed_qty),
        "origQuoteOrderQty": amount_text(order.orig_quote_qty),
        "cummulativeQuoteQty": amount_text(order.cumm_quote_qty),
        "status": order.status,
        "timeInForce": order.time_in_force or "GTC",
        "type": order.type,
        "side": order.side,
        "workingTime": order.time,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def order_ack_full(order: Order, trades: list[Trade], rules: MarketRules) -> dict:
    return {**_order_common(order, rules), "transactTime": order.time, "fills": [fill_json(t) for t in trades]}


def order_status(order: Order, rules: MarketRules) -> dict:
    return {
        **_order_common(order, rules),
        "stopPrice": "0.00000000",
        "icebergQty": "0.00000000",
        "time": order.time,
        "updateTime": order.update_time,
        "isWorking": True,
    }


def order_canceled(order: Order, rules: MarketRules, cancel_client_id: str) -> dict:
    return {
        **_order_common(order, rules),
        "origClientOrderId": order.client_order_id,
        "clientOrderId": cancel_client_id,
        "transactTime": order.update_time,
    }


def fill_json(trade: Trade) -> dict:
    return {
        "price": amount_text(trade.price),
        "qty": amount_text(trade.qty),
        "commission": amount_text(trade.commission),
        "commissionAsset": trade.commission_asset,
        "tradeId": trade.trade_id,
    }


def trade_json(trade: Trade, rules: MarketRules) -> dict:
    return {
        "symbol": rules.market_id,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "orderListId": -1,
        "price": amount_text(trade.price),
        "qty": amount_text(trade.qty),
        "quoteQty": amount_text(trade.quote_qty),
        "commission": amount_text(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time,
        "isBuyer": trade.is_buyer,
        "isMaker": trade.is_maker,
        "isBestMatch": True,
    }


def account_json(account: Account, *, maker_bps: int, taker_bps: int, now_ms: int) -> dict:
    assets = sorted(set(account.free) | set(account.locked))
    return {
        "makerCommission": maker_bps,
        "takerCommission": taker_bps,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": f"{maker_bps / 10000:.8f}",
            "taker": f"{taker_bps / 10000:.8f}",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "balances": [
            {"asset": a, "free": amount_text(account.free.get(a, ZERO)), "locked": amount_text(account.locked.get(a, ZERO))}
            for a in assets
        ],
        "permissions": ["SPOT"],
        "uid": zlib.crc32(account.api_key.encode()),
    }


def order_json_for_control(order: Order) -> dict:
    """The /sim/orders view (for tests and demos): unified symbol and plain strings."""
    return {
        "order_id": order.order_id,
        "api_key": order.api_key,
        "symbol": order.symbol,
        "client_order_id": order.client_order_id,
        "side": order.side,
        "type": order.type,
        "status": order.status,
        "price": str(order.price),
        "orig_qty": str(order.orig_qty),
        "executed_qty": str(order.executed_qty),
        "cumm_quote_qty": str(order.cumm_quote_qty),
        "time": order.time,
    }
