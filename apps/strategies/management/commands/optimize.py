"""manage.py optimize: a parameter sweep with a train/test split; the best set is chosen on the
train part and shown with its out-of-sample (test) figures."""

from django.core.management.base import CommandError

from apps.strategies.backtests.formatting import metric_text, table_text
from apps.strategies.backtests.plan import BacktestRequest
from apps.strategies.backtests.selectors import BacktestError
from apps.strategies.backtests.sweeps import SWEEP_METRICS, SweepRequest, sweep_execute, sweep_files_write
from apps.strategies.management.commands.backtest import Command as BacktestCommand
from apps.strategies.management.commands.backtest import backtest_owner

SHOWN = 10


class Command(BacktestCommand):
    help = (
        "Sweep a strategy's params (--grid name=v1,v2 or --random N within the schema's ranges) over stored "
        "candles, split into train and test by time; stores every set as a BacktestRun of one sweep."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        output = next(action for action in parser._actions if action.dest == "output")
        output.help = (
            "Folder for report.html, trades.csv and metrics.json of the best set run over the whole span "
            "(metrics.json also has every set's train and test figures); default: no files"
        )
        parser.add_argument("--grid", action="append", default=[], help="name=v1,v2,...; repeat for several params")
        parser.add_argument("--random", type=int, help="Draw N sets within the schema's min/max (or the --grid values)")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the random draws (default 0)")
        parser.add_argument("--train-ratio", type=float, default=0.7, help="Share of the time span to train on (default 0.7)")
        parser.add_argument("--metric", default="sharpe", help=f"What 'best' means: {', '.join(SWEEP_METRICS)} (default sharpe)")
        parser.add_argument("--processes", type=int, default=2, help="Worker processes (default 2)")

    def handle(self, *args, **options):
        request = SweepRequest(
            backtest=BacktestRequest(
                strategy=options["strategy"],
                symbols=options["symbol"],
                exchange=options["exchange"],
                timeframe=options["timeframe"],
                start=options["start"],
                end=options["end"],
                balance=options["balance"],
                fee_pct=options["fee"],
                slippage_bps=options["slippage"],
                params=options["param"],
                stop_loss_pct=options["stop_loss"],
                take_profit_pct=options["take_profit"],
                trailing_stop_pct=options["trailing_stop"],
            ),
            grid=options["grid"],
            random=options["random"],
            seed=options["seed"],
            train_ratio=options["train_ratio"],
            metric=options["metric"],
            processes=options["processes"],
        )
        try:
            outcome = sweep_execute(
                request, progress=False if options["no_progress"] else None, owner=backtest_owner(options["owner"])
            )
            files = sweep_files_write(outcome, request, options["output"]) if options["output"] else {}
        except BacktestError as exc:
            raise CommandError(str(exc)) from None
        self._print(outcome, options["metric"])
        for name, path in files.items():
            self.stdout.write(f"{name:8} {path}")

    def _print(self, outcome, metric):
        best, key = outcome.best, outcome.metric_key
        self.stdout.write(
            f"Sweep {outcome.sweep_id}: {len(outcome.runs)} parameter sets of {best.kind} on "
            f"{', '.join(best.symbols)} {best.timeframe}; train until {best.split_at:%Y-%m-%d %H:%M} UTC, "
            f"test after" + (f"; {outcome.invalid_sets} invalid combinations skipped" if outcome.invalid_sets else "")
        )
        rows = [
            [
                _params_text(run.params, outcome.swept),
                metric_text(run.metrics, key),
                metric_text(run.test_metrics, key),
                metric_text(run.metrics, "total_return_pct"),
                metric_text(run.test_metrics, "total_return_pct"),
                metric_text(run.test_metrics, "trades"),
            ]
            for run in outcome.runs[:SHOWN]
        ]
        self.stdout.write(
            table_text(["Params", f"Train {metric}", f"Test {metric}", "Train return", "Test return", "Test trades"], rows)
        )
        self.stdout.write(f"Best by train {metric}: #{best.pk} {_params_text(best.params, outcome.swept)}")
        reason = (best.metrics.get("unavailable") or {}).get(key)
        if reason:
            self.stdout.write(
                f"Note: train {metric} is n/a ({reason}) for every set, so this order means nothing; "
                "choose --metric total_return on a span this short."
            )
        figures = dict.fromkeys(
            [key, "total_return_pct", "max_drawdown_pct", "sharpe", "trades", "win_rate_pct", "profit_factor"]
        )
        self.stdout.write(
            "Out of sample: "
            + ", ".join(
                f"{name.removesuffix('_pct').replace('_', ' ')} {metric_text(best.test_metrics, name)}" for name in figures
            )
        )


def _params_text(params: dict, swept: list[str]) -> str:
    return " ".join(f"{name}={params[name]}" for name in swept) or "defaults"
