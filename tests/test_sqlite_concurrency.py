"""The embedded runtime: web, worker, beat and relay write one SQLite file at once. WAL,
IMMEDIATE transactions and the busy timeout must make them wait, never fail with
"database is locked"."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WRITER = """
import sys, django
django.setup()
from datetime import UTC, datetime, timedelta
from apps.markets.models import CollectorStatus
from apps.markets.services import candles_store
from apps.common.events import event_record
from django.db import transaction
from tests.markets.factories import candle_rows, collector_make

writer = int(sys.argv[1])
collector = collector_make(symbol=["BTC/USDT", "ETH/USDT", "SOL/USDT"][writer])
for batch in range(40):
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * batch)
    candles_store(collector=collector, rows=candle_rows(count=5, start=start))
    with transaction.atomic():
        event_record("portfolio.snapshot_taken", {"account": writer + 1, "equity": str(batch), "cash": "0"}, account=writer + 1)
print("ok")
"""


@pytest.mark.slow
def test_three_processes_write_one_sqlite_file_without_database_is_locked(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "tradedesk.settings",
        "TRADEDESK_TESTING": "1",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from tests.markets.factories import market_make; "
            "[market_make(symbol=s) for s in ('BTC/USDT', 'ETH/USDT', 'SOL/USDT')]",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )

    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for n in range(3)
    ]
    outcomes = [writer.communicate(timeout=240) for writer in writers]

    assert [out.strip() for out, _ in outcomes] == ["ok", "ok", "ok"], [err[-500:] for _, err in outcomes]
    counts = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from apps.markets.models import Candle; "
            "from apps.common.models import Event; print(Candle.objects.count(), Event.objects.filter(kind='portfolio.snapshot_taken').count())",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert counts.stdout.split() == ["600", "120"]
