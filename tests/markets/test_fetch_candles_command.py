from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.exchanges.models import ExchangeAccount
from apps.markets.models import Candle
from tests.markets.factories import market_make
from tests.simulated_exchange import TEST_API_KEY, TEST_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(sim):
    market = market_make(api_url=sim.url)
    return ExchangeAccount.objects.create(
        name="sim", exchange=market.exchange, mode="sim", api_key=TEST_API_KEY, api_secret=TEST_SECRET
    )


def _hours_ago(hours: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)


def test_it_backfills_a_range_and_prints_a_summary(account, sim):
    start, end = _hours_ago(3), _hours_ago(1)
    out = StringIO()
    call_command(
        "fetch_candles",
        "--account",
        "sim",
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "1m",
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        stdout=out,
        verbosity=0,
    )

    assert Candle.objects.count() == 120
    summary = (
        f"BTC/USDT 1m {start:%Y-%m-%d %H:%M} -> {end:%Y-%m-%d %H:%M} UTC: 120 closed candles fetched, 120 new, 0 already stored"
    )
    assert summary in out.getvalue()


def test_a_range_before_the_exchange_history_says_so(account, sim):
    out = StringIO()
    call_command(
        "fetch_candles",
        "--account",
        "sim",
        "--symbol",
        "BTC/USDT",
        "--start",
        "2020-01-01",
        "--end",
        "2020-01-02",
        stdout=out,
        verbosity=0,
    )

    assert "0 closed candles fetched" in out.getvalue()
    assert "The exchange has no BTC/USDT 1m candles in this range" in out.getvalue()


def test_running_it_twice_reports_what_was_already_stored(account, sim):
    args = [
        "--account",
        "sim",
        "--symbol",
        "BTC/USDT",
        "--start",
        _hours_ago(2).isoformat(),
        "--end",
        (_hours_ago(2) + timedelta(minutes=30)).isoformat(),
    ]
    call_command("fetch_candles", *args, stdout=StringIO(), verbosity=0)
    out = StringIO()
    call_command("fetch_candles", *args, stdout=out, verbosity=0)

    assert "30 closed candles fetched, 0 new, 30 already stored" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--account", "nope", "--symbol", "BTC/USDT", "--start", "2026-01-01"],
            "No exchange account named 'nope' (accounts: sim)",
        ),
        (
            ["--account", "sim", "--symbol", "DOGE/USDT", "--start", "2026-01-01"],
            "DOGE/USDT is not a market of Simulated exchange",
        ),
        (
            ["--account", "sim", "--symbol", "BTC/USDT", "--timeframe", "7m", "--start", "2026-01-01"],
            "does not offer '7m' candles",
        ),
        (["--account", "sim", "--symbol", "BTC/USDT", "--start", "yesterday"], "'yesterday' is not a date"),
        (["--account", "sim", "--symbol", "BTC/USDT", "--start", "2026-01-02", "--end", "2026-01-01"], "must be before --end"),
    ],
)
def test_bad_input_is_one_clear_line(account, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("fetch_candles", *args, stdout=StringIO(), verbosity=0)


def test_a_backfill_is_a_successful_run_of_the_collector(account, sim):
    from apps.markets.models import CollectorStatus
    from apps.web.selectors import collector_summary

    call_command(
        "fetch_candles",
        "--account",
        "sim",
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "15m",
        "--start",
        _hours_ago(3).isoformat(),
        "--end",
        _hours_ago(0).isoformat(),
        stdout=StringIO(),
        verbosity=0,
    )

    collector = CollectorStatus.objects.get(timeframe="15m")
    summary = collector_summary(collector)
    assert summary["last_candle_time"] is not None
    assert summary["last_success_at"] is not None  # the page reads "last run Ns ago", not "never"
