"""Shared fixtures. A test that needs a service skips without it, except in CI (CI=true),
where a missing service fails the test: CI must never pass by skipping."""

import os
import socket
import time
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# A developer's .env (written by `make run`) must not change what tests see: this process skips
# it (settings know they run under pytest), and so does every process a test starts.
os.environ["DESK_ENV_FILE"] = os.devnull


def service_missing(reason: str):
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"CI=true and a required service is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_redis() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        service_missing("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0 (CI does)")
    parts = urlsplit(url)
    if not port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        service_missing(f"Redis is not reachable at {url}")
    return url


def require_postgres() -> None:
    from django.conf import settings

    if settings.IS_SQLITE:
        service_missing("needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradedesk (CI does)")


@pytest.fixture
def redis_url() -> str:
    return require_redis()


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres"):
        require_postgres()
    if item.get_closest_marker("redis"):
        require_redis()


@pytest.fixture
def sim():
    """The simulated exchange on a free port. Its clock starts 5 s into a minute so that no
    candle closes during a test (under 55 s): "run it again adds nothing" stays exact."""
    from tests.simulated_exchange import simexchange_running

    start_ms = int(time.time() * 1000) // 60_000 * 60_000 + 5_000
    with simexchange_running(seed=7, history_days=1, start_ms=start_ms) as exchange:
        yield exchange


@pytest.fixture
def collector(sim, db):
    from tests.markets.factories import collector_make

    return collector_make(symbol="BTC/USDT", timeframe="1m", api_url=sim.url)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        service_missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def eager_tasks():
    """Tasks run in place (unit tier); the integration tier runs a real worker instead."""
    from django.conf import settings

    from tradedesk.celery import app

    os.makedirs(settings.VAR_DIR / "celery-results", exist_ok=True)  # the file result backend checks its folder
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def breaker_quick(settings):
    """The circuit breaker's state lives in the shared cache across tests: a breaker a drill opened
    must not refuse the next test's calls for a minute. Its own tests set the timeout they need."""
    settings.TRADING_BREAKER_TIMEOUT_S = 1
