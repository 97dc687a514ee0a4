"""Readiness probes: each checks one part the desk needs and reports, never raises."""

import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

from apps.exchanges.clients import ccxt_client_build
from apps.markets.models import Exchange

CHECK_TIMEOUT_S = 2


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), "detail": detail or ""}
    except Exception as exc:
        return {"ok": False, "ms": round((time.perf_counter() - started) * 1000, 1), "detail": f"{type(exc).__name__}: {exc}"}


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _check_broker():
    from tradedesk.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type


def _check_channel_layer():
    layer = get_channel_layer()
    async_to_sync(layer.send)("health.check", {"type": "health.ping"})
    return type(layer).__name__


def _check_exchanges():
    """Every exchange the desk collects from or trades on answers its time endpoint."""
    exchanges = Exchange.objects.filter(markets__active=True).distinct()
    reached = []
    for exchange in exchanges:
        client = ccxt_client_build(ccxt_id=exchange.ccxt_id, base_url=exchange.api_url)
        client.timeout = CHECK_TIMEOUT_S * 1000
        client.fetch_time()
        reached.append(exchange.code)
    return ", ".join(reached) or "no active markets"


def readiness_checks() -> dict[str, dict]:
    return {
        "database": _timed(_check_database),
        "broker": _timed(_check_broker),
        "channel_layer": _timed(_check_channel_layer),
        "exchange": _timed(_check_exchanges),
    }
