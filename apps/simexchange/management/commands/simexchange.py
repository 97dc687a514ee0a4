"""Run the local simulated exchange (a Binance spot REST subset over a synthetic market).

    python manage.py simexchange --port 8765 --seed 7 --history-days 3 --speed 1 \
        --account KEY:SECRET --state-file var/simexchange.json
"""

from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from apps.simexchange.matching import FeeModel
from apps.simexchange.server import SimExchange


def _account(raw: str) -> tuple[str, str]:
    key, sep, secret = raw.partition(":")
    if not sep or not key or not secret:
        raise CommandError(f"--account must look like KEY:SECRET, got {raw!r}")
    return key, secret


def _balances(raw: str) -> dict[str, Decimal]:
    balances = {}
    for item in filter(None, raw.split(",")):
        asset, _, amount = item.partition("=")
        try:
            balances[asset.strip().upper()] = Decimal(amount)
        except InvalidOperation:
            raise CommandError(f"--balances must look like USDT=100000,BTC=1, got {raw!r}") from None
    return balances


class Command(BaseCommand):
    requires_system_checks = []  # a tool, not the web app: no static-files warnings in its output
    help = "Run the simulated exchange that the desk's ccxt client can trade against offline."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument("--seed", type=int, default=7, help="the synthetic market's seed")
        parser.add_argument("--history-days", type=float, default=3, help="days of candles before now")
        parser.add_argument("--speed", type=float, default=1.0, help="simulated clock speed-up (demos)")
        parser.add_argument("--account", action="append", default=[], metavar="KEY:SECRET", help="repeatable")
        parser.add_argument("--balances", default="USDT=100000", help="starting balances of new accounts")
        parser.add_argument("--state-file", default=None, help="JSON file that keeps accounts and orders across restarts")
        parser.add_argument("--taker-fee", default="0.001")
        parser.add_argument("--maker-fee", default="0.001")
        parser.add_argument("--slippage-bps", default="2")
        parser.add_argument("--rate-limit", type=int, default=6000, help="requests per minute per client (0: off)")

    def handle(self, *args, **options):
        if options["speed"] <= 0:
            raise CommandError("--speed must be positive")
        try:
            fees = FeeModel(Decimal(options["taker_fee"]), Decimal(options["maker_fee"]), Decimal(options["slippage_bps"]))
        except InvalidOperation:
            raise CommandError("--taker-fee, --maker-fee and --slippage-bps must be numbers") from None
        sim = SimExchange(
            host=options["host"],
            port=options["port"],
            seed=options["seed"],
            history_days=options["history_days"],
            speed=options["speed"],
            accounts=[_account(a) for a in options["account"]],
            balances=_balances(options["balances"]),
            state_file=options["state_file"],
            fees=fees,
            rate_limit_per_minute=options["rate_limit"],
        )

        def ready(server):
            self.stdout.write(
                f"simexchange listening on {server.url} (seed {options['seed']}, speed {options['speed']}x, "
                f"symbols {', '.join(server.rules)}); Ctrl-C to stop",
                ending="\n",
            )
            self.stdout.flush()

        try:
            sim.run_forever(on_ready=ready)
        except OSError as error:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {error}") from None
        self.stdout.write("simexchange stopped")
