"""Secrets on disk are readable by their owner only: .env, the simulated exchange's state (API keys
in clear), the generated admin password and the SQLite database. The password is printed once."""

import os
import shutil
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from apps.simexchange.state import ExchangeState

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    """The usual desktop umask (022), under which plain writes come out world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_make_writes_env_readable_by_its_owner_only_with_a_metrics_token(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")

    result = subprocess.run(["sh", "-c", "umask 022 && make .env"], cwd=tmp_path, capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    env_file = tmp_path / ".env"
    assert mode(env_file) == 0o600
    names = {line.split("=", 1)[0] for line in env_file.read_text().splitlines()}
    assert {"SECRET_KEY", "FIELD_ENCRYPTION_KEY", "METRICS_TOKEN"} <= names


def test_the_simulated_exchange_saves_its_api_keys_readable_by_its_owner_only(tmp_path, permissive_umask):
    state = ExchangeState()
    state.account_ensure(api_key="key-1", secret="secret-1", balances={"USDT": Decimal(10)})
    path = tmp_path / "simexchange-state.json"
    path.write_text("{}")  # a state file an older desk left world-readable
    path.chmod(0o644)

    state.save(path)

    assert mode(path) == 0o600
    assert ExchangeState.load(path).accounts["key-1"].secret == "secret-1"


@pytest.mark.django_db
def test_the_generated_admin_password_is_printed_once_and_kept_readable_by_its_owner_only(settings, tmp_path, permissive_umask):
    from apps.desk.demo import demo_admin_ensure

    settings.VAR_DIR = tmp_path

    first_start = demo_admin_ensure(username="admin", password=None)
    next_start = demo_admin_ensure(username="admin", password=None)

    password_file = tmp_path / "admin-password.txt"
    assert first_start.password and password_file.read_text() == first_start.password
    assert mode(password_file) == 0o600
    assert next_start.password is None


def test_the_embedded_database_is_readable_by_its_owner_only(tmp_path):
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "TRADEDESK_TESTING", "DJANGO_SETTINGS_MODULE")
    }
    env.update(VAR_DIR=str(tmp_path / "var"), DEBUG="1")

    result = subprocess.run(
        ["sh", "-c", f"umask 022 && {sys.executable} manage.py migrate --verbosity 0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    database = tmp_path / "var" / "tradedesk.sqlite3"
    assert database.stat().st_size > 0
    assert mode(database) == 0o600
