"""Drill: the worker process is killed (SIGKILL) in the middle of submitting an order. After a
restart there is exactly one order on the exchange and it is known to the desk."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.simexchange.faults import LatencyFault
from apps.trading.models import Order
from apps.trading.services.placement import signal_execute
from apps.trading.services.resolution import orders_sweep
from tests.simulated_exchange import simexchange_running
from tests.workers import wait_until

from .factories import signal_make, strategy_make
from .sim import sim_desk, sim_orders

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(settings.BASE_DIR)


def worker_start(log_name: str) -> subprocess.Popen:
    """`celery -A tradedesk worker` as its own process, on this test's database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": os.environ["REDIS_URL"],
        "LOG_FORMAT": "console",
    }
    env.pop("TEST_DATABASE_NAME", None)
    log = open(ROOT / "var" / log_name, "w")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tradedesk",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "default,strategies,orders",
            "--loglevel",
            "INFO",
            "-n",
            f"{log_name}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def worker_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.parametrize("moment", ["before_the_exchange_booked_it", "after_the_exchange_booked_it"])
def test_a_worker_killed_mid_submit_leaves_exactly_one_order_after_a_restart(moment):
    from tradedesk.celery import app

    os.makedirs(ROOT / "var", exist_ok=True)
    app.control.purge()
    with simexchange_running(seed=7, history_days=0.05) as sim:
        account, market = sim_desk(sim, price=D("60000"))
        strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
        if moment == "before_the_exchange_booked_it":
            sim.faults.latency_add(LatencyFault(ms=6000, remaining=1, path="/api/v3/order"))  # the create hangs in flight
        else:
            sim.faults.drop_add(1, hold_seconds=6)  # booked at once, the reply held back
        first = worker_start("drill-worker-1.log")
        try:
            order = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
            wait_until(lambda: Order.objects.get(pk=order.pk).status == "submitting", timeout=60, message="order claimed")
            time.sleep(1.0)  # the create request is on the wire
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            worker_stop(first)
        assert Order.objects.get(pk=order.pk).status == "submitting"  # the worker died holding it

        second = worker_start("drill-worker-2.log")
        try:
            time.sleep(6)  # the exchange finishes the request it received (or never does)
            orders_sweep(stuck_after=timedelta(seconds=1))
            wait_until(
                lambda: Order.objects.get(pk=order.pk).status in ("filled", "rejected", "expired"),
                timeout=90,
                message="the order is resolved after the restart",
            )
        finally:
            worker_stop(second)

        order.refresh_from_db()
        booked = [o for o in sim_orders(sim) if o.client_order_id == order.client_order_id]
        assert order.status == "filled", list(order.events.values_list("cause", flat=True))
        assert len(booked) == 1 and len(sim_orders(sim)) == 1
        assert order.venue_order_id == str(booked[0].order_id)
        causes = " | ".join(order.events.values_list("cause", flat=True))
        if moment == "after_the_exchange_booked_it":
            assert "resolved by look-up" in causes and "resending" not in causes  # found, never sent twice
