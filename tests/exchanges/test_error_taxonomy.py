import ccxt
import pytest

from apps.exchanges import errors


@pytest.mark.parametrize(
    ("raised", "expected", "retryable"),
    [
        (ccxt.RateLimitExceeded("-1003"), errors.RateLimitedError, True),
        (ccxt.DDoSProtection("418"), errors.RateLimitedError, True),
        (ccxt.RequestTimeout("timed out"), errors.ExchangeTimeoutError, True),
        (ccxt.ExchangeNotAvailable("503"), errors.ExchangeUnavailableError, True),
        (ccxt.OperationFailed("-1001 internal error"), errors.ExchangeUnavailableError, True),
        (ccxt.InvalidNonce("-1021"), errors.ClockSkewError, True),
        (ccxt.AuthenticationError("-1022"), errors.AuthenticationFailedError, False),
        (ccxt.InsufficientFunds("-2010"), errors.InsufficientFundsError, False),
        (ccxt.OrderNotFound("-2013"), errors.OrderNotFoundError, False),
        (ccxt.InvalidOrder("LOT_SIZE"), errors.InvalidOrderError, False),
        (ccxt.BadSymbol("BTC/XYZ"), errors.BadSymbolError, False),
        (ccxt.BadResponse("not json"), errors.MalformedReplyError, False),
        (KeyError("price"), errors.MalformedReplyError, False),
        (ConnectionResetError(), errors.ExchangeUnavailableError, True),
    ],
)
def test_every_exchange_failure_maps_to_one_of_our_classes(raised, expected, retryable):
    error = errors.classify(raised)
    assert type(error) is expected
    assert error.retryable is retryable
    assert error.cause is raised


def test_an_order_timeout_is_temporary_but_says_the_outcome_is_unknown():
    error = errors.classify(ccxt.RequestTimeout("read timeout"))
    assert error.error_class == "timeout" and "outcome is UNKNOWN" in type(error).__doc__
