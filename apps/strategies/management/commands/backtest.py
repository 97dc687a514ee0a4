"""manage.py backtest: run one strategy over stored candles, store the run, write its report."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import Invalid
from apps.strategies.backtests.formatting import summary_rows, table_text
from apps.strategies.backtests.goals import goal_options_parse, goal_rows, sizing_rows
from apps.strategies.backtests.plan import BacktestRequest
from apps.strategies.backtests.selectors import BacktestError
from apps.strategies.backtests.services import backtest_execute


class Command(BaseCommand):
    help = (
        "Backtest a strategy (engine kind, or the id of a configured Strategy) over candles in the database; "
        "writes report.html, trades.csv and metrics.json and stores a BacktestRun."
    )

    def add_arguments(self, parser):
        parser.add_argument("--strategy", required=True, help="Engine strategy kind (e.g. rsi) or a configured Strategy id")
        parser.add_argument("--symbol", action="append", default=[], help="Market symbol, e.g. BTC/USDT; repeat for several")
        parser.add_argument("--exchange", help="Exchange code, when a symbol is on several exchanges")
        parser.add_argument("--timeframe", help="Candle timeframe (default: the strategy's, else 1m)")
        parser.add_argument("--start", help="First candle open time, UTC: 2024-01-31 or 2024-01-31T12:00 (default: all stored)")
        parser.add_argument("--end", help="End, exclusive, UTC (default: all stored)")
        parser.add_argument("--balance", default="10000", help="Initial balance in quote (default 10000)")
        parser.add_argument("--fee", default="0.1", help="Fee in %% of notional, maker and taker (default 0.1)")
        parser.add_argument("--slippage", default="0", help="Slippage in basis points of price (default 0)")
        parser.add_argument("--param", action="append", default=[], help="Strategy param name=value; repeatable")
        parser.add_argument("--detail-timeframe", help="Lower timeframe deciding stop vs target inside one candle")
        parser.add_argument("--stop-loss", help="Protective stop in %% of the entry price (default: the strategy's, else none)")
        parser.add_argument("--take-profit", help="Target in %% of the entry price")
        parser.add_argument("--trailing-stop", help="Trailing stop in %%")
        parser.add_argument("--output", help="Folder for the three files (default var/backtests/<run id>)")
        parser.add_argument("--no-progress", action="store_true", help="Never show a progress bar")
        parser.add_argument(
            "--goal",
            action="append",
            default=[],
            help="A goal kind=value (monthly_return=0.10, monthly_income=4000, portfolio_value=1000000); repeatable: "
            "adds the goal figures and the run with goal-aware sizing on beside it",
        )
        parser.add_argument(
            "--owner", help="Username who may open the report (besides the strategy's account members and admins)"
        )

    def handle(self, *args, **options):
        request = BacktestRequest(
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
            detail_timeframe=options["detail_timeframe"],
            stop_loss_pct=options["stop_loss"],
            take_profit_pct=options["take_profit"],
            trailing_stop_pct=options["trailing_stop"],
        )
        owner = backtest_owner(options["owner"])
        try:
            goals = goal_options_parse(options["goal"])
        except Invalid as exc:
            raise CommandError("--goal: " + " ".join(exc.fields["goal"])) from None
        try:
            outcome = backtest_execute(
                request,
                output_dir=options["output"],
                owner=owner,
                progress=False if options["no_progress"] else None,
                goals=goals or None,
            )
        except BacktestError as exc:
            raise CommandError(str(exc)) from None
        run = outcome.run
        self.stdout.write(
            f"Backtest #{run.pk}: {run.kind} {run.params} on {', '.join(run.symbols)} {run.timeframe}, "
            f"{run.data_start:%Y-%m-%d %H:%M} to {run.data_end:%Y-%m-%d %H:%M} UTC, {run.candle_count} candles"
        )
        self.stdout.write(table_text(["Metric", "Value"], [list(row) for row in summary_rows(run.metrics)]))
        if "goals" in (run.metrics or {}):
            self.stdout.write("")
            self.stdout.write(table_text(["Goal", "Value"], goal_rows(run.metrics["goals"])))
            self.stdout.write("")
            self.stdout.write(table_text(["Goal-aware sizing", "off", "on (catch-up)"], sizing_rows(run.metrics["goals"])))
        for name, path in outcome.files.items():
            self.stdout.write(f"{name:8} {path}")


def backtest_owner(username: str | None):
    if not username:
        return None
    owner = get_user_model().objects.filter(username=username).first()
    if owner is None:
        raise CommandError(f"--owner: there is no user {username!r}.")
    return owner
