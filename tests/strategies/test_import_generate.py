from decimal import Decimal

import pandas as pd
import pytest
from django.core.management import CommandError

from apps.engine.market_sim import MarketSim
from apps.markets.models import Candle, Exchange, Market
from tests.strategies.backtest_seed import command_output, market_seeded

pytestmark = pytest.mark.django_db


def test_generate_market_creates_the_exchange_markets_and_closed_candles():
    out = command_output(
        "generate_market",
        "--symbol",
        "SOL/USDT",
        "--days",
        "1",
        "--timeframe",
        "1m",
        "--timeframe",
        "15m",
        "--exchange",
        "research",
        "--end",
        "2025-03-01T00:00:30",
    )
    market = Market.objects.get(exchange__code="research", symbol="SOL/USDT")
    assert Exchange.objects.filter(code="research").count() == 1 and (market.base, market.quote) == ("SOL", "USDT")
    assert Candle.objects.filter(market=market, timeframe="1m").count() == 1440
    assert Candle.objects.filter(market=market, timeframe="15m").count() == 96
    assert Candle.objects.filter(market=market).latest("open_time").open_time.isoformat() == "2025-02-28T23:59:00+00:00"
    assert "SOL/USDT" in out and "1440" in out


def test_generated_candles_are_the_seeded_market_on_the_markets_tick():
    market_seeded(symbols=("BTC/USDT",), days=1, timeframes="1m")
    stored = list(Candle.objects.filter(timeframe="1m").order_by("open_time").values_list("open_time", "close")[:5])
    start = int(stored[0][0].timestamp() * 1000)
    expected = MarketSim(seed=7).candles("BTC/USDT", "1m", start, start + 5 * 60_000).close
    assert [close for _, close in stored] == [Decimal(f"{value:.2f}") for value in expected]


def test_generating_again_adds_nothing_and_says_so():
    market_seeded(symbols=("ETH/USDT",), days=1, timeframes="1m")
    out = command_output("generate_market", "--symbol", "ETH/USDT", "--days", "1", "--end", "2025-03-01")
    assert Candle.objects.count() == 1440
    assert ["ETH/USDT", "1m", "1440", "0"] in [line.split()[:4] for line in out.splitlines()]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--symbol", "DOGE/USDT"], "the synthetic market has no 'DOGE/USDT'"),
        (["--days", "0"], "--days must be between 1 and"),
        (["--timeframe", "2w"], "'2w' is not a timeframe"),
        (["--end", "2023-06-01"], "starts on 2024-01-01"),
    ],
)
def test_generate_market_refuses_bad_input_in_one_line(args, message):
    with pytest.raises(CommandError, match=message):
        command_output("generate_market", *args)
    assert not Candle.objects.exists()


@pytest.fixture
def market():
    exchange = Exchange.objects.create(code="binance", name="Binance")
    return Market.objects.create(exchange=exchange, symbol="BTC/USDT", base="BTC", quote="USDT")


def write_csv(path, text):
    path.write_text(text)
    return str(path)


def test_import_candles_reads_csv_with_millisecond_or_iso_times(market, tmp_path):
    path = write_csv(
        tmp_path / "btc.csv",
        "open_time,open,high,low,close,volume\n"
        "1740787200000,84000.10,84100.5,83900,84050.25,12.5\n"
        "2025-03-01T00:01:00Z,84050.25,84060,84000,84010,3.25\n",
    )
    out = command_output("import_candles", path, "--symbol", "BTC/USDT", "--timeframe", "1m")
    first, second = Candle.objects.order_by("open_time")
    assert first.open_time.isoformat() == "2025-03-01T00:00:00+00:00" and first.open == Decimal("84000.10")
    assert second.close == Decimal("84010") and second.volume == Decimal("3.25")
    assert "2 rows read, 2 new" in out


def test_import_candles_reads_parquet_with_a_time_column(market, tmp_path):
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(["2025-03-01 00:00", "2025-03-01 00:15"], utc=True),
            "open": [1.5, 1.6],
            "high": [1.7, 1.7],
            "low": [1.4, 1.5],
            "close": [1.6, 1.55],
            "volume": [10.0, 0.0],
        }
    )
    frame.to_parquet(tmp_path / "c.parquet")
    command_output(
        "import_candles", str(tmp_path / "c.parquet"), "--symbol", "BTC/USDT", "--timeframe", "15m", "--exchange", "binance"
    )
    assert list(Candle.objects.order_by("open_time").values_list("timeframe", "close")) == [
        ("15m", Decimal("1.6")),
        ("15m", Decimal("1.55")),
    ]


def test_importing_the_same_file_twice_keeps_one_copy(market, tmp_path):
    path = write_csv(tmp_path / "btc.csv", "time,open,high,low,close,volume\n1740787200000,1,2,0.5,1.5,1\n")
    command_output("import_candles", path, "--symbol", "BTC/USDT", "--timeframe", "1m")
    out = command_output("import_candles", path, "--symbol", "BTC/USDT", "--timeframe", "1m")
    assert Candle.objects.count() == 1 and "0 new, 1 already stored" in out


@pytest.mark.parametrize(
    "text, message",
    [
        ("open_time,open,high,low,volume\n1740787200000,1,2,0.5,1\n", "missing column(s): close"),
        (
            "open_time,open,high,low,close,volume\n1740787200000,1,2,0.5,1.5,1\n1740787260000,1,2,0.5,abc,1\n",
            "row 3: close 'abc' is not a number",
        ),
        (
            "open_time,open,high,low,close,volume\n1740787200000,1,2,0.5,1.5,1\nsoon,1,2,0.5,1.5,1\n",
            "row 3: time 'soon' is neither milliseconds nor an ISO date",
        ),
        ("open_time,open,high,low,close,volume\n1740787200000,1,1.2,0.5,1.5,1\n", "row 2: low 0.5 and high 1.2 do not bound"),
        (
            "open_time,open,high,low,close,volume\n1740787230000,1,2,0.5,1.5,1\n",
            "row 2: open time 2025-03-01 00:00:30 is not the start",
        ),
        (
            "open_time,open,high,low,close,volume\n1740787200000,1,2,0.5,1.5,1\n1740787200000,1,2,0.5,1.5,1\n",
            "row 3: open time 2025-03-01 00:00 repeats row 2",
        ),
        (
            "open_time,open,high,low,close,volume\n99999999999999999999,1,2,0.5,1.5,1\n",
            "row 2: time '99999999999999999999' is out of range",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_problem_and_nothing_is_stored(market, tmp_path, text, message):
    path = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(CommandError) as error:
        command_output("import_candles", path, "--symbol", "BTC/USDT", "--timeframe", "1m")
    assert message in str(error.value)
    assert not Candle.objects.exists()


def test_an_unknown_market_or_file_type_is_refused(market, tmp_path):
    path = write_csv(tmp_path / "btc.csv", "time,open,high,low,close,volume\n1740787200000,1,2,0.5,1.5,1\n")
    with pytest.raises(CommandError, match="market 'ETH/USDT' is not in the database"):
        command_output("import_candles", path, "--symbol", "ETH/USDT", "--timeframe", "1m")
    with pytest.raises(CommandError, match="not a .csv or .parquet file"):
        command_output("import_candles", write_csv(tmp_path / "btc.txt", "x"), "--symbol", "BTC/USDT", "--timeframe", "1m")


@pytest.mark.parametrize("value, column", [("1e40", "high"), ("9" * 10_000, "high"), ("123456789012345678901", "high")])
def test_a_value_too_large_to_store_is_refused_naming_row_and_column_and_nothing_is_stored(market, tmp_path, value, column):
    path = write_csv(
        tmp_path / "huge.csv",
        f"open_time,open,high,low,close,volume\n1740787200000,1,2,0.5,1.5,1\n1740787260000,1,{value},0.5,1.5,1\n",
    )
    with pytest.raises(CommandError) as error:
        command_output("import_candles", path, "--symbol", "BTC/USDT", "--timeframe", "1m")
    message = str(error.value)
    assert message.startswith(f"row 3: {column} ") and "too large" in message
    assert "\n" not in message and len(message) < 300
    assert not Candle.objects.exists()


def test_a_volume_too_large_to_store_is_refused_too(market, tmp_path):
    path = write_csv(tmp_path / "huge.csv", "open_time,open,high,low,close,volume\n1740787200000,1,2,0.5,1.5,1e30\n")
    with pytest.raises(CommandError, match="row 2: volume .* too large"):
        command_output("import_candles", path, "--symbol", "BTC/USDT", "--timeframe", "1m")
    assert not Candle.objects.exists()


@pytest.mark.parametrize("column", ["timestamp", "date", "datetime", "Timestamp"])
def test_the_common_time_column_names_are_accepted(market, tmp_path, column):
    path = write_csv(tmp_path / "btc.csv", f"{column},open,high,low,close,volume\n2025-03-01 00:00:00,1,2,0.5,1.5,1\n")
    command_output("import_candles", path, "--symbol", "BTC/USDT", "--timeframe", "1m")
    assert Candle.objects.get().open_time.isoformat() == "2025-03-01T00:00:00+00:00"


def test_an_exchange_named_on_the_command_line_and_its_market_are_created_offline_with_the_files_precision(tmp_path):
    path = write_csv(
        tmp_path / "eth.csv",
        "timestamp,open,high,low,close,volume\n"
        "1740787200000,2150.5,2151.25,2149.75,2150.00,1.125\n"
        "1740787260000,2150,2152,2149,2151.5,0.5\n",
    )
    out = command_output("import_candles", path, "--symbol", "ETH/USDT", "--timeframe", "1m", "--exchange", "kraken")
    market = Market.objects.get(exchange__code="kraken", symbol="ETH/USDT")
    assert (market.base, market.quote) == ("ETH", "USDT")
    assert market.price_precision == Decimal("0.01") and market.amount_precision == Decimal("0.001")
    assert market.exchange.api_url == ""
    assert Candle.objects.filter(market=market).count() == 2
    assert "Created exchange 'kraken' (offline) and market ETH/USDT" in out
    assert "tick 0.01" in out and "step 0.001" in out
    again = command_output("import_candles", path, "--symbol", "ETH/USDT", "--timeframe", "1m", "--exchange", "kraken")
    assert "Created" not in again and Exchange.objects.filter(code="kraken").count() == 1


def test_a_bad_file_with_a_new_exchange_creates_neither_the_exchange_nor_the_market(tmp_path):
    path = write_csv(tmp_path / "bad.csv", "time,open,high,low,close,volume\n1740787200000,1,2,0.5,abc,1\n")
    with pytest.raises(CommandError, match="row 2: close 'abc' is not a number"):
        command_output("import_candles", path, "--symbol", "ETH/USDT", "--timeframe", "1m", "--exchange", "kraken")
    assert not Exchange.objects.exists() and not Market.objects.exists()


def test_an_unknown_market_without_an_exchange_says_how_to_create_it(market, tmp_path):
    path = write_csv(tmp_path / "eth.csv", "time,open,high,low,close,volume\n1740787200000,1,2,0.5,1.5,1\n")
    with pytest.raises(CommandError, match="--exchange NAME"):
        command_output("import_candles", path, "--symbol", "ETH/USDT", "--timeframe", "1m")
