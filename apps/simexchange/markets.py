"""The listed markets and their Binance filters (tick size, lot size, min notional)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

D = Decimal


@dataclass(frozen=True)
class MarketRules:
    symbol: str  # unified, e.g. "BTC/USDT"
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    min_price: Decimal = D("0.01")
    max_price: Decimal = D("1000000")

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]

    @property
    def market_id(self) -> str:
        return self.base + self.quote

    def price_round(self, price: float | Decimal) -> Decimal:
        return (D(str(price)) / self.tick_size).to_integral_value(ROUND_HALF_UP) * self.tick_size

    def qty_floor(self, qty: Decimal) -> Decimal:
        return (qty / self.step_size).to_integral_value(ROUND_DOWN) * self.step_size

    def price_text(self, price: Decimal) -> str:
        return f"{price.quantize(D('0.00000001')):f}"


DEFAULT_RULES: dict[str, MarketRules] = {
    "BTC/USDT": MarketRules("BTC/USDT", D("0.01"), D("0.00001"), D("0.00001"), D("9000"), D("5")),
    "ETH/USDT": MarketRules("ETH/USDT", D("0.01"), D("0.0001"), D("0.0001"), D("9000"), D("5")),
    "SOL/USDT": MarketRules("SOL/USDT", D("0.01"), D("0.001"), D("0.001"), D("90000"), D("5")),
}


def amount_text(value: Decimal) -> str:
    """Binance prints amounts with 8 decimals."""
    return f"{value.quantize(D('0.00000001')):f}"


def symbol_info(rules: MarketRules) -> dict:
    return {
        "symbol": rules.market_id,
        "status": "TRADING",
        "baseAsset": rules.base,
        "baseAssetPrecision": 8,
        "quoteAsset": rules.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": amount_text(rules.min_price),
                "maxPrice": amount_text(rules.max_price),
                "tickSize": amount_text(rules.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": amount_text(rules.min_qty),
                "maxQty": amount_text(rules.max_qty),
                "stepSize": amount_text(rules.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": amount_text(rules.max_qty),
                "stepSize": "0.00000000",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": amount_text(rules.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def exchange_info(rules: dict[str, MarketRules], server_time_ms: int) -> dict:
    return {
        "timezone": "UTC",
        "serverTime": server_time_ms,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        ],
        "exchangeFilters": [],
        "symbols": [symbol_info(r) for r in rules.values()],
    }
