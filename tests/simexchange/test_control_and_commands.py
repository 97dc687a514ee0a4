"""Control endpoints, the state file, the sped-up clock and the two management commands."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.simulated_exchange import TEST_API_KEY, sim_client, simexchange_running

ROOT = Path(__file__).resolve().parents[2]


def _post(sim, path, body):
    request = urllib.request.Request(
        sim.url + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_an_account_is_created_once_with_its_balances(sim):
    first = _post(sim, "/sim/accounts", {"api_key": "k2", "secret": "s2", "balances": {"USDT": "500", "BTC": "0.1"}})
    again = _post(sim, "/sim/accounts", {"api_key": "k2", "secret": "s2", "balances": {"USDT": "999999"}})
    assert first["balances"]["USDT"]["free"] == "500" and again == first
    balance = sim_client(sim, api_key="k2", secret="s2").fetch_balance()
    assert balance["USDT"]["free"] == 500 and balance["BTC"]["free"] == 0.1


def test_a_bad_control_request_gets_a_clear_400(sim):
    with pytest.raises(urllib.error.HTTPError) as caught:
        _post(sim, "/sim/accounts", {"api_key": "k3", "secret": "s3", "balances": {"USDT": "lots"}})
    assert caught.value.code == 400
    assert "balance USDT must be a number" in caught.value.read().decode()


def test_booked_orders_are_listed_for_tests(sim):
    sim_client(sim).create_order("BTC/USDT", "market", "buy", 0.001, params={"clientOrderId": "seen-1"})
    with urllib.request.urlopen(sim.url + f"/sim/orders?api_key={TEST_API_KEY}", timeout=5) as response:
        orders = json.loads(response.read())["orders"]
    assert [(o["client_order_id"], o["status"], o["symbol"]) for o in orders] == [("seen-1", "FILLED", "BTC/USDT")]


def test_the_clock_endpoint_moves_simulated_time(sim):
    before = sim.clock.now_ms()
    assert _post(sim, "/sim/clock", {"advance_seconds": 3600})["now"] >= before + 3_600_000


def test_a_restart_with_a_state_file_keeps_balances_and_orders(tmp_path):
    state_file = tmp_path / "sim.json"
    with simexchange_running(state_file=state_file) as sim:
        sim_client(sim).create_order("ETH/USDT", "limit", "buy", 1, 100, params={"clientOrderId": "keep-me"})
    with simexchange_running(state_file=state_file) as sim:
        client = sim_client(sim)
        assert client.fetch_balance()["USDT"] == {"free": 99_900, "used": 100, "total": 100_000}
        assert client.fetch_order(None, "ETH/USDT", params={"clientOrderId": "keep-me"})["status"] == "open"
        assert client.create_order("ETH/USDT", "limit", "buy", 1, 100)["id"] != "1"  # ids keep counting


def test_a_sped_up_clock_runs_faster_than_real_time():
    with simexchange_running(speed=600) as sim:
        client = sim_client(sim)
        first = client.fetch_time()
        time.sleep(0.05)  # at least 50 real ms: at least 30 simulated seconds
        second = client.fetch_time()
    assert second - first >= 30_000


def test_simfault_command_sets_and_clears_faults(sim, capsys):
    call_command("simfault", "--url", sim.url, "error", "--status", "429", "--code", "-1003", "--count", "2")
    assert [(f.status, f.code, f.remaining) for f in sim.faults.errors] == [(429, -1003, 2)]
    call_command("simfault", "--url", sim.url, "drop", "--count", "1", "--hold", "3")
    call_command("simfault", "--url", sim.url, "down", "--seconds", "5")
    call_command("simfault", "--url", sim.url, "latency", "--ms", "200")
    status = sim.faults.describe()
    assert status["drop_orders"] == 1 and status["down_seconds_left"] > 0 and status["latencies"][0]["ms"] == 200
    call_command("simfault", "--url", sim.url, "reset")
    assert sim.faults.describe()["errors"] == [] and sim.faults.down_mode_now() is None


def test_the_simexchange_command_prints_its_url_and_stops_cleanly_on_sigterm(tmp_path):
    env = {**os.environ, "DEBUG": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "simexchange",
            "--port",
            "0",
            "--account",
            "demo:secret",
            "--state-file",
            str(tmp_path / "s.json"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("simexchange listening on http://127.0.0.1:"), line
        url = line.split()[3]
        with urllib.request.urlopen(url + "/api/v3/ping", timeout=5) as response:
            assert response.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "simexchange stopped" in process.stdout.read()
        assert json.loads((tmp_path / "s.json").read_text())["accounts"][0]["api_key"] == "demo"
    finally:
        if process.poll() is None:
            process.kill()


def test_a_balance_is_set_from_outside_as_a_deposit_or_withdrawal(sim):
    from tests.simulated_exchange import balance_set_outside

    answer = balance_set_outside(sim, "BTC", Decimal("0.25"))
    assert answer["balances"]["BTC"]["free"] == "0.25"
    assert sim_client(sim).fetch_balance()["BTC"]["total"] == 0.25
    balance_set_outside(sim, "BTC", Decimal("0"))
    assert sim_client(sim).fetch_balance()["BTC"]["total"] == 0


def test_a_trade_by_hand_is_an_order_of_the_account_the_desk_did_not_send(sim):
    from tests.simulated_exchange import is_by_hand, trade_by_hand

    bought = trade_by_hand(sim, "BTC/USDT", "buy", Decimal("0.002"))
    assert bought["order"]["status"] == "FILLED" and is_by_hand(bought["order"]["client_order_id"])
    client = sim_client(sim)
    held = client.fetch_balance()["BTC"]["total"]
    assert held == pytest.approx(0.002 * 0.999)  # the taker fee is taken from the asset received
    sold = trade_by_hand(sim, "BTC/USDT", "sell", Decimal("0.001"))
    assert sold["order"]["side"] == "SELL" and sold["trades"][0]["qty"] == "0.001"
    assert [o["clientOrderId"] for o in client.fetch_orders("BTC/USDT")] == [
        bought["order"]["client_order_id"],
        sold["order"]["client_order_id"],
    ]


def test_a_trade_by_hand_the_account_cannot_pay_is_a_clear_400(sim):
    from tests.simulated_exchange import trade_by_hand

    with pytest.raises(urllib.error.HTTPError) as caught:
        trade_by_hand(sim, "BTC/USDT", "sell", Decimal("5"))
    assert caught.value.code == 400 and "insufficient balance" in caught.value.read().decode().lower()
