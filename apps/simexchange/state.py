"""Accounts, orders and trades of the simulated exchange, kept per API key (Decimal money).

One re-entrant lock guards everything: the aiohttp loop thread writes, tests read from theirs.
The state can be saved to / loaded from a JSON file so a restart keeps balances and orders.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from pathlib import Path

ZERO = Decimal("0")
DEFAULT_BALANCES = {"USDT": Decimal("100000")}
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")


@dataclass
class Order:
    order_id: int
    api_key: str
    symbol: str  # unified, e.g. "BTC/USDT"
    client_order_id: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT | LIMIT_MAKER
    time_in_force: str | None
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    time: int
    update_time: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cumm_quote_qty: Decimal = ZERO
    locked_asset: str = ""
    locked_amount: Decimal = ZERO
    checked_ms: int = 0  # the resting order has been compared with prices up to here

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class Trade:
    trade_id: int
    order_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool


@dataclass
class Account:
    api_key: str
    secret: str
    free: dict[str, Decimal] = field(default_factory=dict)
    locked: dict[str, Decimal] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)

    def balance_add(self, asset: str, amount: Decimal) -> None:
        self.free[asset] = self.free.get(asset, ZERO) + amount

    def lock(self, asset: str, amount: Decimal) -> None:
        self.free[asset] = self.free.get(asset, ZERO) - amount
        self.locked[asset] = self.locked.get(asset, ZERO) + amount

    def unlock(self, asset: str, amount: Decimal, *, spend: bool = False) -> None:
        """Release a lock; with spend=True the amount leaves the account (it was paid)."""
        self.locked[asset] = self.locked.get(asset, ZERO) - amount
        if not spend:
            self.free[asset] = self.free.get(asset, ZERO) + amount

    def orders_by_client_id(self, client_order_id: str, symbol: str | None = None) -> list[Order]:
        return [
            order
            for order in self.orders.values()
            if order.client_order_id == client_order_id and (symbol is None or order.symbol == symbol)
        ]


class ExchangeState:
    def __init__(self):
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.next_order_id = 1
        self.next_trade_id = 1

    def account_ensure(self, *, api_key: str, secret: str, balances: dict[str, Decimal] | None = None) -> Account:
        """Idempotent: an existing account keeps its balances and orders (the secret may change)."""
        if not api_key or not secret:
            raise ValueError("an account needs an api_key and a secret")
        with self.lock:
            account = self.accounts.get(api_key)
            if account is None:
                start = DEFAULT_BALANCES if balances is None else balances
                account = Account(api_key=api_key, secret=secret, free={k: Decimal(v) for k, v in start.items()})
                self.accounts[api_key] = account
            account.secret = secret
            return account

    def order_id_take(self) -> int:
        with self.lock:
            self.next_order_id += 1
            return self.next_order_id - 1

    def trade_id_take(self) -> int:
        with self.lock:
            self.next_trade_id += 1
            return self.next_trade_id - 1

    def orders_all(self, api_key: str | None = None) -> list[Order]:
        with self.lock:
            accounts = [self.accounts[api_key]] if api_key in self.accounts else ([] if api_key else self.accounts.values())
            return sorted((o for a in accounts for o in a.orders.values()), key=lambda o: o.order_id)

    # ---- persistence -----------------------------------------------------------------------

    def to_json(self) -> dict:
        with self.lock:
            return {
                "next_order_id": self.next_order_id,
                "next_trade_id": self.next_trade_id,
                "accounts": [_account_to_json(a) for a in self.accounts.values()],
            }

    @classmethod
    def from_json(cls, data: dict) -> ExchangeState:
        state = cls()
        state.next_order_id = int(data.get("next_order_id", 1))
        state.next_trade_id = int(data.get("next_trade_id", 1))
        for raw in data.get("accounts", []):
            account = _account_from_json(raw)
            state.accounts[account.api_key] = account
        return state

    def save(self, path: str | Path) -> None:
        """Atomic write (a crash mid-save never leaves a half file), readable by its owner only."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(path.suffix + ".tmp")
        temp.unlink(missing_ok=True)  # a leftover temp file keeps its old mode; start afresh
        # 0600 from the first byte: the file holds every account's API key and secret in clear.
        with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(json.dumps(self.to_json(), default=str, indent=1))
        os.replace(temp, path)

    @classmethod
    def load(cls, path: str | Path) -> ExchangeState:
        path = Path(path)
        if not path.exists():
            return cls()
        return cls.from_json(json.loads(path.read_text()))


def _account_to_json(account: Account) -> dict:
    return {
        "api_key": account.api_key,
        "secret": account.secret,
        "free": {k: str(v) for k, v in account.free.items()},
        "locked": {k: str(v) for k, v in account.locked.items()},
        "orders": [{k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(o).items()} for o in account.orders.values()],
        "trades": [{k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(t).items()} for t in account.trades],
    }


def _typed(cls, raw: dict):
    values = {}
    for f in fields(cls):
        value = raw.get(f.name)
        if value is not None and f.type in ("Decimal",):
            value = Decimal(value)
        values[f.name] = value
    return cls(**{k: v for k, v in values.items() if v is not None or k in ("time_in_force",)})


def _account_from_json(raw: dict) -> Account:
    orders = [_typed(Order, o) for o in raw.get("orders", [])]
    return Account(
        api_key=raw["api_key"],
        secret=raw["secret"],
        free={k: Decimal(v) for k, v in raw.get("free", {}).items()},
        locked={k: Decimal(v) for k, v in raw.get("locked", {}).items()},
        orders={o.order_id: o for o in orders},
        trades=[_typed(Trade, t) for t in raw.get("trades", [])],
    )
