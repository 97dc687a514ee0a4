"""Binance request signing: HMAC-SHA256 of totalParams (query string + body), API key header,
timestamp within recvWindow. The timestamp is checked against the real wall clock (what
clients sign with), even when the simulated market clock runs faster."""

from __future__ import annotations

import hashlib
import hmac

from apps.simexchange.errors import BinanceError, bad_param
from apps.simexchange.state import Account, ExchangeState

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
FUTURE_TOLERANCE_MS = 1000


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """The raw params without `signature=...`, and the signature itself (order kept)."""
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def account_authenticate(
    state: ExchangeState, *, api_key: str | None, raw_query: str, raw_body: str, params: dict, wall_ms: int
) -> Account:
    if not api_key:
        raise BinanceError(401, -2014, "API-key format invalid.")
    account = state.accounts.get(api_key)
    if account is None:
        raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    query, query_sig = _strip_signature(raw_query)
    body, body_sig = _strip_signature(raw_body)
    signature = query_sig or body_sig
    if not signature:
        raise bad_param("Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    _timestamp_check(params, wall_ms)
    expected = hmac.new(account.secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(400, -1022, "Signature for this request is not valid.")
    return account


def _timestamp_check(params: dict, wall_ms: int) -> None:
    try:
        timestamp = int(params["timestamp"])
    except (KeyError, ValueError):
        raise bad_param("Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.") from None
    try:
        recv_window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
    except ValueError:
        raise bad_param("Param 'recvWindow' was malformed.") from None
    if not 0 < recv_window <= MAX_RECV_WINDOW_MS:
        raise BinanceError(400, -1131, "recvWindow must be less than 60000")
    if timestamp > wall_ms + FUTURE_TOLERANCE_MS:
        raise BinanceError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if wall_ms - timestamp > recv_window:
        raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
