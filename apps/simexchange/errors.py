"""Binance-shaped errors: an HTTP status plus {"code": ..., "msg": ...} as Binance sends them."""

from __future__ import annotations


class BinanceError(Exception):
    def __init__(self, status: int, code: int, msg: str):
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg

    def payload(self) -> dict:
        return {"code": self.code, "msg": self.msg}


def bad_param(msg: str) -> BinanceError:
    return BinanceError(400, -1102, msg)


def illegal_chars(name: str) -> BinanceError:
    return BinanceError(
        400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."
    )


def filter_failure(name: str) -> BinanceError:
    return BinanceError(400, -1013, f"Filter failure: {name}")


def insufficient_balance() -> BinanceError:
    return BinanceError(400, -2010, "Account has insufficient balance for requested action.")


def duplicate_order() -> BinanceError:
    return BinanceError(400, -2010, "Duplicate order sent.")


def unknown_order() -> BinanceError:
    return BinanceError(400, -2013, "Order does not exist.")


def cancel_unknown_order() -> BinanceError:
    return BinanceError(400, -2011, "Unknown order sent.")


def invalid_symbol() -> BinanceError:
    return BinanceError(400, -1121, "Invalid symbol.")
