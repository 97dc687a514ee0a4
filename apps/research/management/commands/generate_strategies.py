"""manage.py generate_strategies: a seeded genetic search over composed indicator rules, each
candidate bias-checked and walk-forward tested by the workers of the `research` queue; the
best are stored as stopped strategies (kind "rules") for a trader to review and start."""

import time
from dataclasses import fields

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.common.errors import ApplicationError
from apps.research.generation import (
    SearchRequest,
    search_create,
    search_get,
    search_progress,
    search_run_here,
    search_start,
)
from apps.research.space import OBJECTIVES
from apps.strategies.backtests.formatting import table_text
from apps.strategies.management.commands.backtest import backtest_owner

STALL_SECONDS = 90  # nothing evaluated for this long: queue the pending candidates again (their worker may have died)


class Command(BaseCommand):
    help = (
        "Generate strategies: a genetic search (seeded) over indicator rules joined by and/or; every candidate passes "
        "the bias checks and is walk-forward tested; the best are stored as stopped strategies of the account."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=500, help="Candidates to evaluate in all (default 500)")
        parser.add_argument("--account", type=int, help="Exchange account id the strategies trade on")
        parser.add_argument("--symbol", action="append", default=[], help="Market symbol, e.g. BTC/USDT; repeat for several")
        parser.add_argument("--exchange", help="Exchange code, when a symbol is on several exchanges")
        parser.add_argument("--timeframe", default="1m", help="Candle timeframe (default 1m)")
        parser.add_argument("--start", help="First candle, UTC (default: the first stored)")
        parser.add_argument("--end", help="End, exclusive, UTC (default: after the last stored)")
        parser.add_argument("--generations", type=int, default=5, help="Generations the count is shared by (default 5)")
        parser.add_argument("--survivors", type=int, default=10, help="Best candidates stored as strategies (default 10)")
        parser.add_argument("--folds", type=int, default=3, help="Out-of-sample windows of the walk-forward (default 3)")
        parser.add_argument("--test-share", type=float, default=0.3, help="Share of the span out of sample (default 0.3)")
        parser.add_argument(
            "--objective",
            default="return_over_drawdown",
            help=f"{' | '.join(o for o in OBJECTIVES if o != 'multi')} (default return_over_drawdown)",
        )
        parser.add_argument("--min-trades", type=int, default=3, help="Out-of-sample trades a survivor needs (default 3)")
        parser.add_argument("--seed", type=int, default=0, help="Seed: the same seed and data give the same candidates")
        parser.add_argument("--balance", default="10000", help="Initial balance of each backtest (default 10000)")
        parser.add_argument("--fee", default="0.1", help="Fee in %% of notional (default 0.1)")
        parser.add_argument("--slippage", default="0", help="Slippage in basis points (default 0)")
        parser.add_argument("--owner", help="Username the search belongs to")
        parser.add_argument("--resume", type=int, help="Resume search #ID after a crash (queues its pending candidates)")
        parser.add_argument("--no-wait", action="store_true", help="Queue the search and return (follow it with --resume)")
        parser.add_argument("--in-process", action="store_true", help="Evaluate here, without workers (small counts)")
        parser.add_argument("--no-progress", action="store_true", help="Never show a progress bar")

    def handle(self, *args, **options):
        try:
            if options["resume"] is not None:
                search = search_get(options["resume"])
            else:
                search = search_create(self._request(options), owner=backtest_owner(options["owner"]))
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Search #{search.pk}: {search.count} candidates in {search.generations} generations on "
            f"{', '.join(search.symbols)} {search.timeframe}, seed {search.seed}, objective {search.objective}; "
            f"in sample {search.folds['in_sample'][0][:16]}..{search.folds['in_sample'][1][:16]}, "
            f"{len(search.folds['out_of_sample'])} out-of-sample folds to {search.folds['out_of_sample'][-1][1][:16]} UTC"
        )
        if options["in_process"]:
            with self._bar(search, options) as bar:
                search_run_here(search, progress=lambda: bar.update(1))
        else:
            search_start(search)
            if options["no_wait"]:
                self.stdout.write(
                    f"Queued on the research queue; follow it with: manage.py generate_strategies --resume {search.pk}"
                )
                return
            self._watch(search, options)
        self._print(search)

    def _request(self, options) -> SearchRequest:
        """The options as a SearchRequest (the same names but --symbol, --fee and --slippage)."""
        option = {"symbols": "symbol", "fee_pct": "fee", "slippage_bps": "slippage"}
        return SearchRequest(**{name: options[option.get(name, name)] for name in (f.name for f in fields(SearchRequest))})

    def _bar(self, search, options):
        progress = search_progress(search)
        return tqdm(
            total=search.count,
            initial=progress.evaluated,
            desc=f"search #{search.pk}",
            unit="candidate",
            disable=True if options["no_progress"] else None,
        )

    def _watch(self, search, options) -> None:
        """Waits for the workers; queues the pending candidates again when nothing was
        evaluated for STALL_SECONDS."""
        progress = search_progress(search)
        last, changed = progress.evaluated, time.monotonic()
        with self._bar(search, options) as bar:
            while progress.status != search.Status.FINISHED:
                time.sleep(0.5)
                progress = search_progress(search)
                bar.update(progress.evaluated - bar.n)
                bar.set_postfix(generation=progress.generation, failed=progress.failed)
                if progress.evaluated != last:
                    last, changed = progress.evaluated, time.monotonic()
                elif time.monotonic() - changed > STALL_SECONDS:
                    search_start(search)
                    changed = time.monotonic()

    def _print(self, search) -> None:
        progress = search_progress(search)
        survivors = list(search.candidates.filter(rank__isnull=False).select_related("strategy").order_by("rank"))
        self.stdout.write(
            f"{progress.evaluated} candidates evaluated ({progress.failed} failed); "
            f"{progress.survivors} stored as stopped strategies"
        )
        rows = [
            [
                str(c.rank),
                f"#{c.strategy.pk}" if c.strategy else "-",
                f"{c.out_of_sample:.4g}",
                f"{c.stability:.2f}",
                str(c.trades),
                f"{c.in_sample:.4g}" if c.in_sample is not None else "n/a",
                f"{c.params['entry']} / exit {c.params['exit']}",
            ]
            for c in survivors
        ]
        if rows:
            self.stdout.write(
                table_text(["Rank", "Strategy", f"OOS {search.objective}", "Stability", "OOS trades", "In sample", "Rules"], rows)
            )
        for c in survivors:
            if c.strategy is None and c.detail:
                self.stdout.write(f"rank {c.rank}: {c.detail}")
