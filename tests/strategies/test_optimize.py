import pytest
from django.core.management import CommandError

from apps.engine.strategies.registry import strategy_get
from apps.strategies.models import BacktestRun
from tests.strategies.backtest_seed import command_output, market_seeded

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    market_seeded(symbols=("BTC/USDT",), days=3, timeframes="1m")


def optimize(*args) -> str:
    return command_output("optimize", "--no-progress", "--symbol", "BTC/USDT", *args)


def test_a_grid_sweep_stores_every_set_under_one_sweep_with_train_and_test_figures(seeded):
    out = optimize("--strategy", "rsi", "--grid", "period=7,14,21", "--grid", "oversold=25,30", "--processes", "2")
    runs = list(BacktestRun.objects.all())
    assert len(runs) == 6 and len({run.sweep_id for run in runs}) == 1
    assert {(run.params["period"], run.params["oversold"]) for run in runs} == {(p, o) for p in (7, 14, 21) for o in (25.0, 30.0)}
    for run in runs:
        assert run.data_start < run.split_at < run.data_end
        assert run.metrics["end"] < run.split_at.isoformat() <= run.test_metrics["start"].replace("Z", "+00:00")
    assert "Out of sample" in out
    assert "train sharpe is n/a (fewer than 30 daily returns) for every set" in out  # three days: no Sharpe


def test_the_best_set_is_the_one_with_the_highest_train_metric_and_is_flagged_alone(seeded):
    optimize("--strategy", "rsi", "--grid", "period=7,14,21", "--metric", "total_return")
    runs = list(BacktestRun.objects.all())
    best = [run for run in runs if run.is_best]
    assert len(best) == 1
    assert best[0].metrics["total_return_pct"] == max(run.metrics["total_return_pct"] for run in runs)
    assert best[0].sweep_metric == "total_return_pct"


def test_a_smaller_drawdown_is_better_when_ranking_by_drawdown(seeded):
    optimize("--strategy", "rsi", "--grid", "period=7,14,21", "--metric", "max_drawdown")
    runs = list(BacktestRun.objects.all())
    best = next(run for run in runs if run.is_best)
    assert best.metrics["max_drawdown_pct"] == min(run.metrics["max_drawdown_pct"] for run in runs)


def test_the_test_part_gets_the_same_figures_as_a_backtest_of_that_period_alone(seeded, tmp_path):
    optimize("--strategy", "rsi", "--grid", "period=14", "--processes", "1")
    sweep = BacktestRun.objects.get()
    start = sweep.split_at.strftime("%Y-%m-%dT%H:%M")
    command_output(
        "backtest", "--no-progress", "--strategy", "rsi", "--symbol", "BTC/USDT", "--start", start, "--output", str(tmp_path)
    )
    alone = BacktestRun.objects.exclude(pk=sweep.pk).get()
    assert alone.metrics["trades"] == sweep.test_metrics["trades"]
    assert alone.metrics["total_return_pct"] == pytest.approx(sweep.test_metrics["total_return_pct"])


def test_a_random_search_stays_in_the_schema_ranges_and_repeats_with_its_seed(seeded):
    optimize("--strategy", "ema_cross", "--random", "6", "--seed", "11")
    optimize("--strategy", "ema_cross", "--random", "6", "--seed", "11")
    sweeps = dict.fromkeys(BacktestRun.objects.order_by("id").values_list("sweep_id", flat=True))
    first, second = (
        {tuple(sorted(run.params.items())) for run in BacktestRun.objects.filter(sweep_id=sweep)} for sweep in sweeps
    )
    assert first == second
    schema = {param.name: param for param in strategy_get("ema_cross").params_schema}
    for params in first:
        for name, value in params:
            param = schema[name]
            if param.min is not None:
                assert param.min <= value <= param.max
            if name == "fast":
                assert value < dict(params)["slow"]  # combinations breaking the strategy's rules are skipped


@pytest.mark.parametrize(
    "args, message",
    [
        (["--strategy", "rsi", "--grid", "period=7", "--metric", "luck"], "--metric 'luck' is not one of"),
        (["--strategy", "rsi"], "nothing to sweep"),
        (["--strategy", "rsi", "--grid", "period=1,9999"], "--grid period: must be at least 2"),
        (["--strategy", "rsi", "--grid", "speed=1,2"], "--grid 'speed' is not a parameter"),
        (["--strategy", "ema_cross", "--grid", "fast=50", "--grid", "slow=20"], "none of the 1 parameter sets is valid"),
        (["--strategy", "rsi", "--grid", "period=7", "--train-ratio", "1.5"], "--train-ratio must be between"),
    ],
)
def test_bad_sweep_input_gets_one_clear_line_and_stores_nothing(seeded, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        optimize(*args)
    assert not BacktestRun.objects.exists()


def test_an_output_folder_gets_the_best_sets_report_trades_and_metrics(seeded, tmp_path):
    import csv
    import json

    out = optimize("--strategy", "rsi", "--grid", "period=7,14", "--metric", "total_return", "--output", str(tmp_path))
    best = BacktestRun.objects.get(is_best=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["metrics.json", "report.html", "trades.csv"]
    document = json.loads((tmp_path / "metrics.json").read_text())
    assert document["params"] == best.params
    assert document["sweep"]["best_run"] == best.pk and document["sweep"]["test_metrics"] == best.test_metrics
    assert len(document["sweep"]["sets"]) == 2
    assert document["metrics"]["start"] == best.metrics["start"] and document["metrics"]["end"] == best.test_metrics["end"]
    with (tmp_path / "trades.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == document["metrics"]["trades"]
    report = (tmp_path / "report.html").read_text()
    assert f"best set (#{best.pk})" in report and "LightweightCharts" in report
    assert str(tmp_path / "report.html") in out
    assert BacktestRun.objects.count() == 2 and best.report_path.endswith("report.html")
