"""`manage.py backup` and `manage.py restore FILE`: a backup restored into a fresh database holds
the same orders, fills and positions, on PostgreSQL and on SQLite; a restore refuses while the
desk runs."""

import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from decimal import Decimal as D
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.common.errors import Conflict
from apps.common.heartbeats import heartbeat_record
from apps.desk.backups import _sqlite_copy
from apps.trading.models import Fill, Order, Position
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from tests.simulated_exchange import simexchange_running
from tests.trading.factories import signal_make, strategy_make
from tests.trading.sim import price_move, sim_desk

ROOT = Path(__file__).resolve().parents[2]
ORDERS = "SELECT client_order_id, status, side, amount, filled, average_price FROM trading_order ORDER BY client_order_id"
FILLS = "SELECT venue_trade_id, price, amount, fee, fee_currency FROM trading_fill ORDER BY venue_trade_id"
POSITIONS = "SELECT account_id, market_id, amount, average_entry, realized_pnl, fees FROM trading_position ORDER BY id"


@pytest.fixture
def sim():
    with simexchange_running(seed=7, history_days=0.05) as exchange:
        yield exchange


def trade_history(sim) -> None:
    """A buy, a price move, a sell of part of it: orders, fills and a position with realized P&L."""
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
    for side, intent, price in (("buy", "open", D("60000")), ("sell", "close", D("61000"))):
        price_move(sim, market, price)
        order = signal_execute(signal_id=signal_make(strategy=strategy, market=market, side=side, intent=intent).pk)
        order_submit(order_id=order.pk)
    assert Fill.objects.count() == 2 and Position.objects.get().realized_pnl != 0


def desk_rows() -> dict[str, list[tuple]]:
    """What the desk's own database holds, as the SQL below reads it."""
    return {
        "orders": list(
            Order.objects.order_by("client_order_id").values_list(
                "client_order_id", "status", "side", "amount", "filled", "average_price"
            )
        ),
        "fills": list(
            Fill.objects.order_by("venue_trade_id").values_list("venue_trade_id", "price", "amount", "fee", "fee_currency")
        ),
        "positions": list(
            Position.objects.order_by("id").values_list(
                "account_id", "market_id", "amount", "average_entry", "realized_pnl", "fees"
            )
        ),
    }


def manage(*argv: str, database_url: str, **env) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tradedesk.settings",
        "TRADEDESK_TESTING": "1",
        "DATABASE_URL": database_url,
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def fresh_postgres():
    """An empty PostgreSQL database beside the test database, dropped afterwards."""
    db = settings.DATABASES["default"]
    server = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    name = f"td_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_postgresql_backup_restored_into_a_fresh_database_holds_the_same_orders_fills_and_positions(
    sim, tmp_path, fresh_postgres
):
    trade_history(sim)
    call_command("backup", dir=tmp_path, keep=3)
    [backup] = tmp_path.glob("tradedesk-*.dump")

    restored = manage("restore", str(backup), database_url=fresh_postgres)

    assert restored.returncode == 0, restored.stderr
    assert "the database now holds 2 orders, 2 fills, 1 positions" in restored.stdout
    with psycopg.connect(fresh_postgres) as db:
        found = {
            name: db.execute(sql).fetchall() for name, sql in (("orders", ORDERS), ("fills", FILLS), ("positions", POSITIONS))
        }
    assert found == desk_rows()
    assert oct(backup.stat().st_mode & 0o777) == "0o600"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sqlite_backup_restored_into_a_fresh_file_holds_the_same_orders_fills_and_positions(sim, tmp_path):
    """The same trades, loaded into an embedded (SQLite) desk, backed up while it is there and
    restored into an empty file."""
    trade_history(sim)
    rows = desk_rows()
    fixture = tmp_path / "trades.json"
    call_command(
        "dumpdata",
        *("markets.exchange", "markets.market", "exchanges.exchangeaccount", "strategies.strategy"),
        *("trading.signal", "trading.order", "trading.fill", "trading.position"),
        output=str(fixture),
    )
    source, target = f"sqlite:///{tmp_path / 'desk.sqlite3'}", f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    for argv in (("migrate", "--no-input"), ("loaddata", str(fixture)), ("backup", "--dir", str(tmp_path / "backups"))):
        done = manage(*argv, database_url=source)
        assert done.returncode == 0, done.stderr
    [backup] = (tmp_path / "backups").glob("tradedesk-*.sqlite3")

    restored = manage("restore", str(backup), database_url=target)

    assert restored.returncode == 0, restored.stderr
    with closing(sqlite3.connect(tmp_path / "restored.sqlite3")) as db:
        found = {
            name: db.execute(sql).fetchall() for name, sql in (("orders", ORDERS), ("fills", FILLS), ("positions", POSITIONS))
        }
    assert _as_decimal_text(found) == _as_decimal_text(rows)


def _as_decimal_text(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {name: [tuple(_text(value) for value in row) for row in rows] for name, rows in tables.items()}


def _text(value) -> str:
    """SQLite keeps decimals as text or numbers: compare them as exact decimals."""
    if value in ("", None):
        return ""
    try:
        return str(D(str(value)).normalize())
    except ArithmeticError:
        return str(value)


@pytest.mark.django_db(transaction=True)  # on SQLite the copy reads the test database: no transaction may hold it
def test_only_the_newest_backups_are_kept(tmp_path):
    for _ in range(4):
        call_command("backup", dir=tmp_path, keep=2)

    assert len(list(tmp_path.glob("tradedesk-*"))) == 2


@pytest.mark.django_db(transaction=True)  # the backup on SQLite reads the test database
def test_a_restore_while_a_worker_beats_is_refused_and_changes_nothing(tmp_path):
    call_command("backup", dir=tmp_path, keep=1)
    [backup] = tmp_path.glob("tradedesk-*")
    heartbeat_record(name="worker@desk-1")

    with pytest.raises(CommandError, match=r"the desk is running \(worker@desk-1 gave a heartbeat at .* UTC\): stop it"):
        call_command("restore", str(backup))


@pytest.mark.django_db(transaction=True)  # the backup on SQLite reads the test database
def test_a_restore_while_make_run_supervises_the_desk_is_refused(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("backup", dir=tmp_path, keep=1)
    [backup] = tmp_path.glob("tradedesk-*")
    supervisor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "rundesk.pid").write_text(str(supervisor.pid))
        with pytest.raises(CommandError, match=rf"`make run` is running \(pid {supervisor.pid}"):
            call_command("restore", str(backup))
    finally:
        supervisor.kill()
        supervisor.wait()


def test_a_sqlite_backup_of_a_database_held_locked_fails_in_words_instead_of_hanging(tmp_path):
    source = tmp_path / "desk.sqlite3"
    holder = sqlite3.connect(source, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")  # another process mid-write, for ever

    with pytest.raises(Conflict, match="stayed locked"):
        _sqlite_copy(source=source, target=tmp_path / "copy.sqlite3", lock_wait=0.5)
    holder.close()


def test_a_backup_of_the_other_engine_or_no_file_is_refused_in_words(tmp_path):
    other = tmp_path / (
        "tradedesk-x.sqlite3" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "tradedesk-x.dump"
    )
    other.write_bytes(b"")

    with pytest.raises(CommandError, match="is not a .* backup"):
        call_command("restore", str(other))
    with pytest.raises(CommandError, match="no backup at"):
        call_command("restore", str(tmp_path / "missing.dump"))
