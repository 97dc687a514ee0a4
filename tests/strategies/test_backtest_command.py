import csv
import json
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError

from apps.strategies.models import BacktestRun
from tests.strategies.backtest_seed import command_output, market_seeded
from tests.trading.factories import account_make, strategy_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    market_seeded()


def backtest(*args) -> str:
    return command_output("backtest", "--no-progress", *args)


def test_it_writes_the_report_trades_and_metrics_and_stores_the_run(seeded, tmp_path):
    out = backtest(
        "--strategy",
        "rsi",
        "--symbol",
        "BTC/USDT",
        "--symbol",
        "ETH/USDT",
        "--stop-loss",
        "1",
        "--take-profit",
        "2",
        "--output",
        str(tmp_path),
    )
    run = BacktestRun.objects.get()
    assert {p.name for p in tmp_path.iterdir()} == {"report.html", "trades.csv", "metrics.json"}
    assert run.kind == "rsi" and run.symbols == ["BTC/USDT", "ETH/USDT"] and run.timeframe == "1m"
    assert run.candle_count == 2 * 2880 and run.metrics["trades"] > 0
    assert run.report_path == str((tmp_path / "report.html").resolve())
    with (tmp_path / "trades.csv").open() as handle:
        trades = list(csv.DictReader(handle))
    assert len(trades) == run.metrics["trades"] == len(run.trades)
    assert sum(float(t["pnl"]) for t in trades) == pytest.approx(run.metrics["net_pnl"])
    assert json.loads((tmp_path / "metrics.json").read_text())["metrics"]["total_return_pct"] == run.metrics["total_return_pct"]
    assert f"Backtest #{run.pk}" in out and "Total return" in out


def test_each_trade_carries_the_stop_and_target_it_had_at_entry(seeded, tmp_path):
    backtest("--strategy", "rsi", "--symbol", "BTC/USDT", "--stop-loss", "1", "--take-profit", "2", "--output", str(tmp_path))
    for trade in BacktestRun.objects.get().trades:
        assert trade["stop"] == pytest.approx(trade["entry_price"] * 0.99)
        assert trade["target"] == pytest.approx(trade["entry_price"] * 1.02)


def test_the_report_is_self_contained_with_the_chart_library_inlined(seeded, tmp_path):
    backtest("--strategy", "ema_cross", "--symbol", "BTC/USDT", "--output", str(tmp_path))
    html = (tmp_path / "report.html").read_text()
    assert "TradingView Lightweight Charts" in html
    assert "<script src" not in html and "<link" not in html and "cdn" not in html.lower()
    assert 'id="equity-chart"' in html and 'id="candles-BTC-USDT"' in html and 'id="monthly-heatmap"' in html


def test_the_same_data_gives_the_same_hash_and_other_data_another(seeded, tmp_path):
    for _ in range(2):
        backtest("--strategy", "rsi", "--symbol", "BTC/USDT", "--output", str(tmp_path))
    backtest("--strategy", "rsi", "--symbol", "BTC/USDT", "--start", "2025-02-28", "--output", str(tmp_path))
    first, second, shorter = BacktestRun.objects.order_by("id")
    assert first.data_hash == second.data_hash != shorter.data_hash
    assert len(first.data_hash) == 64 and first.code_version


def test_a_start_date_trades_only_from_then_with_indicators_already_warmed_up(seeded, tmp_path):
    backtest("--strategy", "rsi", "--symbol", "BTC/USDT", "--start", "2025-02-28T06:00", "--output", str(tmp_path))
    run = BacktestRun.objects.get()
    assert run.data_start.isoformat() == "2025-02-28T06:00:00+00:00"
    assert run.candle_count == 18 * 60
    assert all(trade["entry_time"] >= "2025-02-28T06:00" for trade in run.trades)


def test_undefined_metrics_show_as_a_dash_never_as_zero(seeded, tmp_path):
    out = backtest(
        "--strategy",
        "rsi",
        "--symbol",
        "BTC/USDT",
        "--param",
        "oversold=1",
        "--param",
        "overbought=99",
        "--output",
        str(tmp_path),
    )
    assert BacktestRun.objects.get().metrics["trades"] == 0
    lines = {line.split("  ")[0]: line.split()[-1] for line in out.splitlines() if "  " in line}
    assert lines["Win rate"] == lines["Profit factor"] == lines["Expectancy / trade"] == "—"
    assert lines["Trades"] == "0"


def test_a_configured_strategy_lends_its_kind_params_markets_and_sizing(seeded, tmp_path):
    from apps.markets.models import Market

    strategy = strategy_make(
        account=account_make(),
        markets=[Market.objects.get(symbol="ETH/USDT")],
        kind="rsi",
        params={"period": 21},
        stop_loss_pct="2",
    )
    backtest("--strategy", str(strategy.pk), "--output", str(tmp_path))
    run = BacktestRun.objects.get()
    assert run.strategy == strategy and run.kind == "rsi" and run.params["period"] == 21
    assert run.symbols == ["ETH/USDT"]
    assert run.settings["sizing"] == {"mode": "fixed_quote", "value": 1000.0}
    assert run.settings["stop_loss_pct"] == pytest.approx(0.02)


def test_detail_candles_are_used_for_stop_and_target_inside_one_candle(seeded, tmp_path):
    backtest(
        "--strategy",
        "rsi",
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "15m",
        "--detail-timeframe",
        "1m",
        "--stop-loss",
        "0.3",
        "--take-profit",
        "0.3",
        "--param",
        "period=5",
        "--output",
        str(tmp_path),
    )
    run = BacktestRun.objects.get()
    assert run.detail_timeframe == "1m" and run.candle_count == 192


@pytest.mark.parametrize(
    "args, message",
    [
        (["--strategy", "nope", "--symbol", "BTC/USDT"], "unknown strategy 'nope'"),
        (["--strategy", "rsi", "--symbol", "BTC/USDT", "--param", "period=9999"], "period: must be at most 500"),
        (["--strategy", "rsi", "--symbol", "BTC/USDT", "--param", "colour=red"], "colour: is not a parameter"),
        (["--strategy", "rsi", "--symbol", "BTC/USDT", "--start", "2025-02-28", "--end", "2025-02-27"], "must be before --end"),
        (["--strategy", "rsi", "--symbol", "BTC/USDT", "--start", "2024-05-01", "--end", "2024-05-02"], "no BTC/USDT 1m candles"),
        (["--strategy", "rsi", "--symbol", "DOGE/USDT"], "market 'DOGE/USDT' is not in the database"),
        (["--strategy", "rsi", "--symbol", "BTC/USDT", "--timeframe", "7m"], "'7m' is not a timeframe"),
        (["--strategy", "rsi", "--symbol", "BTC/USDT", "--start", "yesterday"], "is not a date"),
        (["--strategy", "rsi", "--symbol", "BTC/USDT", "--balance", "-5"], "--balance must be at least 0.01"),
        (["--strategy", "rsi"], "no market given"),
        (["--strategy", "999"], "no configured strategy has id 999"),
        (["--strategy", "mtf_trend", "--symbol", "BTC/USDT", "--timeframe", "1m"], "mtf_trend on BTC/USDT 1m"),
    ],
)
def test_bad_input_gets_one_clear_line_and_no_run(seeded, args, message):
    with pytest.raises(CommandError) as error:
        backtest(*args)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert not BacktestRun.objects.exists()


def test_a_bad_command_line_exits_non_zero_without_a_traceback(tmp_path):
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    done = subprocess.run(
        [sys.executable, "manage.py", "backtest", "--strategy", "no_such_strategy", "--symbol", "BTC/USDT"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "CommandError: unknown strategy 'no_such_strategy'; known strategies: bollinger, donchian, ema_cross, grid, "
        "macd, mtf_trend, rsi, rules, sma_cross, volume_profile, vwap_reversion"
    ]


def test_figures_a_two_day_backtest_cannot_support_read_n_a_with_the_reason(seeded, tmp_path):
    out = backtest("--strategy", "rsi", "--symbol", "BTC/USDT", "--output", str(tmp_path))
    lines = dict(line.split("  ", 1) for line in out.splitlines() if "  " in line and not line.startswith("-"))
    assert lines["Annualised return"].strip() == lines["Calmar"].strip() == "n/a (span too short)"
    assert lines["Sharpe"].strip() == lines["Sortino"].strip() == "n/a (fewer than 30 daily returns)"
    assert lines["Total return"].strip().endswith("%")
    metrics = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert metrics["annualised_return_pct"] is None and metrics["sharpe"] is None
    assert metrics["unavailable"]["annualised_return_pct"] == "span too short"
    assert "n/a (span too short)" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--fee", "-1"],
            "--fee must be at least 0 and at most 5 (a percentage of each order's value, e.g. 0.1 for 0.1 %); got -1.",
        ),
        (["--slippage", "-3"], "--slippage must be at least 0 and at most 1000"),
        (["--stop-loss", "-5"], "--stop-loss must be above 0 and below 100 (a percentage of the entry price, e.g. 5 for 5 %"),
        (["--trailing-stop", "0"], "--trailing-stop must be above 0 and below 100"),
        (["--take-profit", "ten"], "--take-profit must be a number above 0 and at most 1000"),
    ],
)
def test_fees_slippage_and_exits_out_of_range_are_refused_in_words_a_trader_reads(seeded, args, message):
    with pytest.raises(CommandError) as error:
        backtest("--strategy", "rsi", "--symbol", "BTC/USDT", *args)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not BacktestRun.objects.exists()


def test_every_bad_setting_is_reported_at_once(seeded):
    with pytest.raises(CommandError) as error:
        backtest("--strategy", "rsi", "--symbol", "BTC/USDT", "--fee", "-1", "--stop-loss", "-5", "--balance", "0")
    message = str(error.value)
    assert "--fee must" in message and "--stop-loss must" in message and "--balance must" in message


def test_a_configured_strategys_bad_setting_is_named_as_the_strategys_not_as_a_flag(seeded, tmp_path):
    from apps.markets.models import Market

    strategy = strategy_make(
        account=account_make(), markets=[Market.objects.get(symbol="ETH/USDT")], kind="rsi", stop_loss_pct="-5", allocation=D("1")
    )
    with pytest.raises(CommandError) as error:
        backtest("--strategy", str(strategy.pk), "--output", str(tmp_path))
    message = str(error.value)
    assert f"Strategy #{strategy.pk}'s stop-loss (set in the admin) must be above 0" in message
    assert f"Strategy #{strategy.pk}'s allocation (set in the admin) 1 is below the smallest order" in message
    assert "--stop-loss" not in message and "--" not in message
