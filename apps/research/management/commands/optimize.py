"""manage.py optimize: an Optuna study (--trials N) run by the workers on the `research` queue,
or a grid/random sweep on this machine (--grid / --random). Either way the best set is chosen
on the train part and shown with its out-of-sample (test) figures."""

import time

from django.core.management.base import CommandError
from tqdm import tqdm

from apps.common.errors import ApplicationError
from apps.research.robustness import study_robustness
from apps.research.space import OBJECTIVES, PRUNERS, SAMPLERS
from apps.research.studies import StudyRequest, study_create, study_get, study_progress, study_runs, study_start
from apps.research.walkforward import WalkForwardRequest, walk_forward_create, walk_forward_report
from apps.strategies.backtests.formatting import metric_text, table_text
from apps.strategies.backtests.plan import BacktestRequest
from apps.strategies.backtests.selectors import BacktestError
from apps.strategies.backtests.sweeps import SWEEP_METRICS, SweepRequest, sweep_execute, sweep_files_write
from apps.strategies.management.commands.backtest import Command as BacktestCommand
from apps.strategies.management.commands.backtest import backtest_owner

SHOWN = 10
STALL_SECONDS = 90  # no trial finished for this long: queue fresh trial tasks (their worker may have died)


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
        strategy = next(action for action in parser._actions if action.dest == "strategy")
        strategy.required = False  # --resume needs none; everything else checks it below
        study = parser.add_argument_group("Optuna study (run by the workers of the research queue)")
        study.add_argument("--trials", type=int, help="Run an Optuna study of N finished trials")
        study.add_argument("--objective", default="sharpe", help=f"{' | '.join(OBJECTIVES)} (default sharpe)")
        study.add_argument("--sampler", default="tpe", help=f"{' | '.join(SAMPLERS)} (default tpe)")
        study.add_argument("--pruner", default="none", help=f"{' | '.join(PRUNERS)} (default none)")
        study.add_argument("--train", help="Train span START..END, UTC, end exclusive (e.g. 2024-01-01..2024-03-01)")
        study.add_argument("--test", help="Test span START..END, after the train span")
        study.add_argument(
            "--space",
            action="append",
            default=[],
            help="Search name=low:high[:step] or name=a,b,c (params, or stop_loss/take_profit/trailing_stop in %%)",
        )
        study.add_argument("--tasks", type=int, default=4, help="Trial tasks in flight at once (default 4)")
        study.add_argument("--resume", type=int, help="Resume study #ID after a crash (queues its trial tasks again)")
        study.add_argument("--no-wait", action="store_true", help="Queue the study and return (watch it with --resume)")
        folds = parser.add_argument_group("Walk-forward (a study per fold; needs --trials)")
        folds.add_argument("--walk-forward", type=int, help="Number of folds: optimise on each train window, test on the next")
        folds.add_argument("--train-days", type=float, help="Days of each train window (rolling), or of the first (anchored)")
        folds.add_argument("--test-days", type=float, help="Days of each test window")
        folds.add_argument("--anchored", action="store_true", help="Every train window starts at the start of the data")

    def handle(self, *args, **options):
        if options["resume"] is None and not options["strategy"]:
            raise CommandError("--strategy is required (an engine strategy kind or a configured Strategy id)")
        if options["trials"] is not None or options["resume"] is not None:
            return self._study(options)
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

    # --- Optuna studies ---------------------------------------------------------------------

    def _study(self, options):
        if options["walk_forward"] is not None:
            return self._walk_forward(options)
        try:
            if options["resume"] is not None:
                study = study_get(options["resume"])
            else:
                study = study_create(self._study_request(options), owner=backtest_owner(options["owner"]))
            study_start(study, tasks=options["tasks"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Study #{study.pk}: {study.trials} trials of {study.kind} on {', '.join(study.symbols)} {study.timeframe}, "
            f"objective {study.objective}, sampler {study.sampler}, pruner {study.pruner}; "
            f"train {study.train_start:%Y-%m-%d %H:%M}..{study.train_end:%Y-%m-%d %H:%M}, "
            f"test {study.test_start:%Y-%m-%d %H:%M}..{study.test_end:%Y-%m-%d %H:%M} UTC"
        )
        if options["no_wait"]:
            self.stdout.write(f"Queued on the research queue; follow it with: manage.py optimize --resume {study.pk}")
            return
        progress = self._study_watch(study, options)
        self._study_print(study, progress)

    def _walk_forward(self, options):
        request = WalkForwardRequest(
            study=self._study_request({**options, "train": "", "test": ""}),
            folds=options["walk_forward"],
            train_days=options["train_days"] or 0,
            test_days=options["test_days"] or 0,
            anchored=options["anchored"],
            start=options["start"],
            end=options["end"],
        )
        try:
            folds = walk_forward_create(request, owner=backtest_owner(options["owner"]))
            for study in folds:
                study_start(study, tasks=options["tasks"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        group = folds[0].walk_forward
        self.stdout.write(f"Walk-forward {group}: {len(folds)} folds ({'anchored' if request.anchored else 'rolling'})")
        for study in folds:
            self.stdout.write(
                f"  fold {study.fold}: study #{study.pk}, train {study.train_start:%Y-%m-%d %H:%M}..{study.train_end:%Y-%m-%d %H:%M}, "
                f"test {study.test_start:%Y-%m-%d %H:%M}..{study.test_end:%Y-%m-%d %H:%M}"
            )
        if options["no_wait"]:
            return
        for study in folds:
            self._study_watch(study, options)
        try:
            report = walk_forward_report(group)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        rows = [
            [
                str(f.fold),
                " ".join(f"{k}={v}" for k, v in f.params.items()) if f.params is not None else "no trial scored",
                metric_text(f.train_metrics, "total_return_pct"),
                metric_text(f.test_metrics, "total_return_pct"),
                metric_text(f.test_metrics, "max_drawdown_pct"),
                metric_text(f.test_metrics, "trades"),
            ]
            for f in report.folds
        ]
        self.stdout.write(
            table_text(["Fold", "Best params (train)", "Train return", "Test return", "Test DD", "Test trades"], rows)
        )
        efficiency = "n/a (the training earned nothing)" if report.efficiency is None else f"{report.efficiency:.2f}"
        self.stdout.write(
            f"Out of sample, stitched: {report.initial_balance:,.2f} -> {report.final_equity:,.2f}; "
            f"walk-forward efficiency {efficiency}"
        )
        for name, figures in report.stability.items():
            steadiness = (
                f"variation {figures['coefficient_of_variation']:.2f}"
                if "coefficient_of_variation" in figures
                else f"{figures['share']:.0%} chose {figures['most_common']}"
            )
            self.stdout.write(f"  {name}: {figures['values']} ({steadiness})")

    def _study_request(self, options) -> StudyRequest:
        sweep_only = [name for name in ("grid", "random") if options[name]]
        if sweep_only:
            raise CommandError(f"--{sweep_only[0]} is for sweeps; a study (--trials) searches with --space")
        return StudyRequest(
            backtest=BacktestRequest(
                strategy=options["strategy"],
                symbols=options["symbol"],
                exchange=options["exchange"],
                timeframe=options["timeframe"],
                balance=options["balance"],
                fee_pct=options["fee"],
                slippage_bps=options["slippage"],
                params=options["param"],
                stop_loss_pct=options["stop_loss"],
                take_profit_pct=options["take_profit"],
                trailing_stop_pct=options["trailing_stop"],
            ),
            train=options["train"] or "",
            test=options["test"] or "",
            trials=options["trials"],
            objective=options["objective"],
            sampler=options["sampler"],
            pruner=options["pruner"],
            space=options["space"],
            seed=options["seed"],
        )

    def _study_watch(self, study, options):
        """Waits for the workers, with a progress bar; queues fresh trial tasks when nothing has
        finished for STALL_SECONDS (a worker died holding them)."""
        progress = study_progress(study)
        last_finished, last_change = progress.finished, time.monotonic()
        with tqdm(
            total=study.trials,
            initial=progress.finished,
            desc=f"study #{study.pk}",
            unit="trial",
            disable=True if options["no_progress"] else None,
        ) as bar:
            while progress.status != study.Status.FINISHED:
                time.sleep(1.0)
                progress = study_progress(study)
                bar.update(progress.finished - bar.n)
                if progress.best:
                    bar.set_postfix(best=", ".join(f"{v:.4g}" for v in progress.best["values"]), failed=progress.failed)
                if progress.finished != last_finished:
                    last_finished, last_change = progress.finished, time.monotonic()
                elif time.monotonic() - last_change > STALL_SECONDS:
                    study_start(study, tasks=options["tasks"])
                    last_change = time.monotonic()
        return progress

    def _study_print(self, study, progress):
        runs = list(study_runs(study)[:SHOWN])
        self.stdout.write(
            f"{progress.finished} trials finished ({progress.failed} failed and replaced); "
            f"{study_runs(study).count()} stored as BacktestRuns of sweep {study.uuid}"
        )
        keys = ("total_return_pct", "max_drawdown_pct", "sharpe", "trades")
        rows = [
            [
                f"{run.settings['study']['trial']}{' *' if run.is_best else ''}",
                " ".join(f"{name}={value}" for name, value in run.params.items()),
                *[metric_text(run.metrics, key) for key in keys[:3]],
                *[metric_text(run.test_metrics, key) for key in keys],
            ]
            for run in runs
        ]
        headers = [
            "Trial",
            "Params",
            "Train return",
            "Train DD",
            "Train sharpe",
            "Test return",
            "Test DD",
            "Test sharpe",
            "Test trades",
        ]
        self.stdout.write(table_text(headers, rows))
        if progress.best is None:
            self.stdout.write("No trial has a defined objective: widen the spans or choose another --objective.")
            return
        self.stdout.write(f"Best trial #{progress.best['trial']}: {progress.best['params']}")
        self._robustness_print(study_robustness(study))

    def _robustness_print(self, figures: dict) -> None:
        shuffle, bootstrap = figures["monte_carlo_shuffle"], figures["monte_carlo_bootstrap"]
        significance, around = figures["significance"], figures["neighbourhood"]

        def spread(values: dict, unit: str = "") -> str:
            return " / ".join(f"{values[p]:,.2f}{unit}" for p in ("5", "50", "95"))

        self.stdout.write(f"Robustness of trial #{figures['trial']} on the test span ({figures['trades']} trades):")
        self.stdout.write(
            f"  Monte Carlo, trade order shuffled x{shuffle['runs']} (5th / 50th / 95th): final equity "
            f"{spread(shuffle['final_equity'])}, max drawdown {spread(shuffle['max_drawdown_pct'], ' %')}"
        )
        self.stdout.write(
            f"  Monte Carlo, trades bootstrapped x{bootstrap['runs']}: final equity {spread(bootstrap['final_equity'])}, "
            f"max drawdown {spread(bootstrap['max_drawdown_pct'], ' %')}"
        )
        p_value = "n/a (no trades)" if significance["p_value"] is None else f"{significance['p_value']:.3f}"
        self.stdout.write(
            f"  Mean trade return vs random entries on the detrended market: p-value {p_value} "
            f"({significance['runs']} random runs)"
        )
        drop = (
            "n/a" if around["mean_drop"] is None else f"{around['mean_drop']:.0%} on average, {around['worst_drop']:.0%} at worst"
        )
        self.stdout.write(f"  One step around the best params ({around['neighbours']} neighbours) the objective falls {drop}")


def _params_text(params: dict, swept: list[str]) -> str:
    return " ".join(f"{name}={params[name]}" for name in swept) or "defaults"
