"""One error taxonomy for every exchange call: ccxt's exceptions mapped once, here.

Temporary errors may be retried with backoff (for reads, and for order look-ups; never an
order create). Permanent errors fail fast and are recorded. Malformed replies are their own
class so they are counted and never crash a loop.
"""

import ccxt


class ExchangeCallError(Exception):
    kind = "error"
    retryable = False

    def __init__(self, message: str, *, cause: Exception | None = None):
        super().__init__(message)
        self.cause = cause

    @property
    def error_class(self) -> str:
        """A short name for metrics and status rows, e.g. 'rate_limited'."""
        return self.kind


class TemporaryExchangeError(ExchangeCallError):
    kind = "temporary"
    retryable = True


class RateLimitedError(TemporaryExchangeError):
    kind = "rate_limited"


class ExchangeUnavailableError(TemporaryExchangeError):
    kind = "unavailable"


class ExchangeTimeoutError(TemporaryExchangeError):
    """The request may or may not have been processed: for orders the outcome is UNKNOWN."""

    kind = "timeout"


class ClockSkewError(TemporaryExchangeError):
    kind = "clock_skew"


class CircuitOpenError(TemporaryExchangeError):
    """Not sent: the account's circuit breaker is open (apps/exchanges/breaker.py)."""

    kind = "circuit_open"


class PermanentExchangeError(ExchangeCallError):
    kind = "permanent"


class AuthenticationFailedError(PermanentExchangeError):
    kind = "authentication"


class InsufficientFundsError(PermanentExchangeError):
    kind = "insufficient_funds"


class InvalidOrderError(PermanentExchangeError):
    kind = "invalid_order"


class OrderNotFoundError(PermanentExchangeError):
    kind = "order_not_found"


class BadSymbolError(PermanentExchangeError):
    kind = "bad_symbol"


class BadRequestError(PermanentExchangeError):
    kind = "bad_request"


class MalformedReplyError(PermanentExchangeError):
    kind = "malformed_reply"


# Most specific first: ccxt's classes inherit from each other.
_CCXT_MAP: list[tuple[type[Exception], type[ExchangeCallError]]] = [
    (ccxt.InvalidNonce, ClockSkewError),
    (ccxt.RateLimitExceeded, RateLimitedError),
    (ccxt.DDoSProtection, RateLimitedError),
    (ccxt.RequestTimeout, ExchangeTimeoutError),
    (ccxt.OnMaintenance, ExchangeUnavailableError),
    (ccxt.ExchangeNotAvailable, ExchangeUnavailableError),
    (ccxt.NetworkError, ExchangeUnavailableError),
    (ccxt.AuthenticationError, AuthenticationFailedError),
    (ccxt.PermissionDenied, AuthenticationFailedError),
    (ccxt.AccountSuspended, AuthenticationFailedError),
    (ccxt.InsufficientFunds, InsufficientFundsError),
    (ccxt.OrderNotFound, OrderNotFoundError),
    (ccxt.InvalidOrder, InvalidOrderError),
    (ccxt.BadSymbol, BadSymbolError),
    (ccxt.BadResponse, MalformedReplyError),
    (ccxt.NullResponse, MalformedReplyError),
    (ccxt.BadRequest, BadRequestError),
    (ccxt.NotSupported, BadRequestError),
    (ccxt.ExchangeError, PermanentExchangeError),
    # Binance -1000/-1001 ("internal error; try again") raise OperationFailed, outside ExchangeError.
    (ccxt.OperationFailed, ExchangeUnavailableError),
]


def classify(exc: Exception) -> ExchangeCallError:
    """Map any exception raised by an exchange call into our taxonomy."""
    if isinstance(exc, ExchangeCallError):
        return exc
    for ccxt_class, our_class in _CCXT_MAP:
        if isinstance(exc, ccxt_class):
            return our_class(f"{type(exc).__name__}: {exc}", cause=exc)
    if isinstance(exc, (KeyError, ValueError, TypeError, IndexError, AttributeError)):
        # ccxt parsing a reply that is not what the API promises.
        return MalformedReplyError(f"Malformed exchange reply ({type(exc).__name__}: {exc})", cause=exc)
    if isinstance(exc, (TimeoutError, ConnectionError, OSError)):
        return ExchangeUnavailableError(f"{type(exc).__name__}: {exc}", cause=exc)
    return PermanentExchangeError(f"Unexpected {type(exc).__name__}: {exc}", cause=exc)
