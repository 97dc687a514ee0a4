"""Readiness and deep probes: each checks one part the desk needs and reports, never raises."""

import asyncio
import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from apps.common.heartbeats import STALE_AFTER, heartbeat_age, heartbeat_record
from apps.common.models import Heartbeat
from apps.common.ops_hooks import reconciliation_ages
from apps.exchanges.clients import ccxt_client_build
from apps.markets.models import Exchange

CHECK_TIMEOUT_S = 2


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), "detail": detail or ""}
    except Exception as exc:
        detail = str(exc) if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {exc}"
        return {"ok": False, "ms": round((time.perf_counter() - started) * 1000, 1), "detail": detail}


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


class CheckFailed(Exception):
    """A probe that ran and found the part unwell (its message says how)."""


RECONCILIATION_STALE_SECONDS = 300  # reconciliation runs every minute: five missed passes


def _check_database_read():
    return f"{connection.vendor}: {Heartbeat.objects.count()} heartbeats"


def _check_database_write():
    """A write and its read-back in one transaction (rolled back: no trace)."""
    with transaction.atomic():
        heartbeat_record(name="health-deep")
        written = Heartbeat.objects.get(name="health-deep")
        transaction.set_rollback(True)
    return f"wrote and read back at {written.beat_at:%H:%M:%S}"


def _check_broker_round_trip():
    """A message through the broker and back on a queue of its own."""
    from tradedesk.celery import app

    name = f"health-{uuid.uuid4().hex[:12]}"
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)
        queue = conn.SimpleQueue(name)
        try:
            queue.put({"ping": name})
            message = queue.get(timeout=CHECK_TIMEOUT_S)
            message.ack()
            if message.payload != {"ping": name}:
                raise CheckFailed(f"sent {name}, received {message.payload!r}")
        finally:
            _queue_delete(queue)
            queue.close()
    return "published and consumed"


def _queue_delete(queue) -> None:
    try:
        queue.queue.delete()
    except Exception:
        pass  # the filesystem transport keeps no queue object to delete


def _check_channel_layer_round_trip():
    layer = get_channel_layer()

    async def round_trip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        return await asyncio.wait_for(layer.receive(channel), timeout=CHECK_TIMEOUT_S)

    message = async_to_sync(round_trip)()
    if message.get("type") != "health.ping":
        raise CheckFailed(f"received {message!r}")
    return f"{type(layer).__name__}: sent and received"


def _check_exchange_time():
    """Every exchange answers its time endpoint; the offset from our clock is reported."""
    exchanges = Exchange.objects.filter(markets__active=True).distinct()
    offsets = []
    for exchange in exchanges:
        client = ccxt_client_build(ccxt_id=exchange.ccxt_id, base_url=exchange.api_url)
        client.timeout = CHECK_TIMEOUT_S * 1000
        offsets.append(f"{exchange.code} {client.fetch_time() - int(time.time() * 1000):+d} ms")
    return ", ".join(offsets) or "no active markets"


def _heartbeat_check(prefix: str, process: str):
    def check():
        age = heartbeat_age(prefix=prefix)
        if age is None:
            raise CheckFailed(f"no {process} heartbeat yet (is the {process} running?)")
        if age > STALE_AFTER.total_seconds():
            raise CheckFailed(f"last {process} heartbeat {age:.0f} s ago")
        return f"last heartbeat {age:.0f} s ago"

    return check


def _check_reconciliation_age():
    ages = reconciliation_ages()
    stale = {name: age for name, age in ages.items() if age is None or age > RECONCILIATION_STALE_SECONDS}
    if stale:
        raise CheckFailed(
            "; ".join(f"{name}: never reconciled" if age is None else f"{name}: {age:.0f} s ago" for name, age in stale.items())
        )
    return ", ".join(f"{name} {age:.0f} s ago" for name, age in ages.items()) or "no exchange accounts to reconcile"


def deep_checks() -> dict[str, dict]:
    return {
        "database_read": _timed(_check_database_read),
        "database_write": _timed(_check_database_write),
        "broker": _timed(_check_broker_round_trip),
        "channel_layer": _timed(_check_channel_layer_round_trip),
        "exchange_time": _timed(_check_exchange_time),
        "worker": _timed(_heartbeat_check("worker@", "worker")),
        "beat": _timed(_heartbeat_check("beat", "beat")),
        "reconciliation": _timed(_check_reconciliation_age),
    }


def readiness_checks() -> dict[str, dict]:
    return {
        "database": _timed(_check_database),
        "broker": _timed(_check_broker),
        "channel_layer": _timed(_check_channel_layer),
        "exchange": _timed(_check_exchanges),
    }
