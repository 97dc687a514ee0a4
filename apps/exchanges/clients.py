"""The one factory for exchange clients: the real ccxt class, configured for the account.

For sim accounts the API hosts are rewritten to the simulated exchange, so the very same
ccxt code path that would talk to Binance talks to apps/simexchange.
"""

import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import ccxt

from apps.exchanges.errors import ExchangeCallError, classify
from apps.exchanges.models import ExchangeAccount

T = TypeVar("T")
REQUEST_TIMEOUT_MS = 10_000
_clients: dict[tuple[int, str], ccxt.Exchange] = {}


def _rehost(urls, base_url: str):
    """Point every API URL (nested dicts/strings) at base_url, keeping paths."""
    if isinstance(urls, dict):
        return {key: _rehost(value, base_url) for key, value in urls.items()}
    if isinstance(urls, str) and urls.startswith("http"):
        base = urlsplit(base_url)
        path = urlsplit(urls)
        return urlunsplit((base.scheme, base.netloc, path.path, path.query, path.fragment))
    return urls


def ccxt_client_build(*, ccxt_id: str, api_key: str = "", secret: str = "", base_url: str = "") -> ccxt.Exchange:
    exchange_class = getattr(ccxt, ccxt_id)
    client = exchange_class(
        {
            "apiKey": api_key,
            "secret": secret,
            "timeout": REQUEST_TIMEOUT_MS,
            "enableRateLimit": True,
            "options": {
                "maxRetriesOnFailure": 0,  # never retry inside ccxt: an order create must not repeat
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
                "adjustForTimeDifference": False,
            },
        }
    )
    if base_url:
        client.urls["api"] = _rehost(client.urls["api"], base_url)
        client.rateLimit = 10  # our own exchange: keep ccxt's throttle out of the way
    return client


def exchange_client(account: ExchangeAccount) -> ccxt.Exchange:
    """A configured ccxt client for the account, cached per process until the account changes."""
    key = (account.pk, account.updated_at.isoformat() if account.updated_at else "")
    client = _clients.get(key)
    if client is None:
        client = ccxt_client_build(
            ccxt_id=account.exchange.ccxt_id,
            api_key=account.api_key,
            secret=account.api_secret,
            base_url=account.api_url if account.mode == ExchangeAccount.Mode.SIM else "",
        )
        _clients[key] = client
    return client


def market_data_client(exchange) -> ccxt.Exchange:
    """A client for public market data (no keys), cached per process. `exchange` is a
    markets.Exchange (exchanges sits below markets, so it is not imported here)."""
    key = (-exchange.pk, exchange.api_url)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = ccxt_client_build(ccxt_id=exchange.ccxt_id, base_url=exchange.api_url)
        client.breaker_service = f"marketdata:{exchange.code}"  # read by market_data_call
    return client


def market_data_call(client, fn: Callable[[], T], *, attempts: int = 4) -> T:
    """A public market-data read, retried, through the exchange's market-data circuit breaker."""
    from apps.exchanges.breaker import breaker_call

    service = getattr(client, "breaker_service", None)
    if service is None:  # a client built by hand (a command's one-off): no shared breaker
        return call_with_retry(fn, attempts=attempts)
    return breaker_call(service, lambda: call_with_retry(fn, attempts=attempts))


def call_exchange(fn: Callable[[], T]) -> T:
    """Call once; any failure comes out as our taxonomy."""
    try:
        return fn()
    except Exception as exc:
        raise classify(exc) from exc


def call_with_retry(fn: Callable[[], T], *, attempts: int = 4, base_delay: float = 0.25) -> T:
    """For idempotent reads only: retry temporary errors with exponential backoff."""
    for attempt in range(attempts):
        try:
            return call_exchange(fn)
        except ExchangeCallError as error:
            if not error.retryable or attempt == attempts - 1:
                raise
            time.sleep(base_delay * 2**attempt)
    raise AssertionError("unreachable")
