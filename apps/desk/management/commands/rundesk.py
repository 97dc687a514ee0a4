"""`make run`: the whole desk in one terminal. Starts the simulated exchange, prepares the
database (migrate, demo seed), then web (ASGI), worker, research worker, beat and relay; Ctrl-C stops all.

The children write to var/log/<name>.log; the console keeps the setup lines, the banner (last)
and the supervisor's lines: a child that dies is restarted with back-off (apps/common/supervisor.py)."""

import os
import signal
import sys
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.common.prometheus import multiprocess_folder_clear
from apps.desk.backups import supervisor_pidfile_remove, supervisor_pidfile_write
from apps.desk.demo import DEMO_ACCOUNT, demo_seed
from apps.desk.supervisor import ChildExited, Supervisor
from tradedesk.celery import QUEUES

PYTHON = sys.executable
# Research and alerts have workers of their own: a backtest's minutes of CPU and the alerts
# dispatcher's tick (it holds its worker for most of each 2 s period) never hold up an order.
TRADING_QUEUES = tuple(queue for queue in QUEUES if queue not in ("research", "alerts"))


def worker_command(queues, concurrency: str, name: str) -> list[str]:
    return [
        PYTHON,
        "-m",
        "celery",
        "-A",
        "tradedesk",
        "worker",
        "-Q",
        ",".join(queues),
        "-n",
        f"{name}@%h",
        "--concurrency",
        concurrency,
        "--loglevel",
        "INFO",
    ]


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt  # one clean shutdown for Ctrl-C and SIGTERM


class Command(BaseCommand):
    help = "Run the whole desk (web, worker, beat, relay, simulated exchange) until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("DESK_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("DESK_PORT", "8000")))
        parser.add_argument("--no-simexchange", action="store_true", help="Use an exchange that is already running")

    def handle(self, *args, host, port, no_simexchange, **options):
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        multiprocess_folder_clear(settings.PROMETHEUS_MULTIPROC_DIR)  # the counters of the last run are history
        supervisor_pidfile_write()  # `manage.py restore` refuses while it names a living desk
        self.supervisor = Supervisor(log_dir=settings.VAR_DIR / "log", report=self.stdout.write)
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        # Explicitly: a desk started from a script inherits SIGINT ignored, and Python then
        # never turns Ctrl-C into KeyboardInterrupt.
        signal.signal(signal.SIGINT, _stop_on_sigterm)
        try:
            if not no_simexchange:
                self._start_simexchange()
            self._prepare_database()
            self._start_desk(host, port)
            self._watch()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the desk…")
        except ChildExited as exc:
            raise CommandError(str(exc)) from None
        finally:
            self._stop_all()
            supervisor_pidfile_remove()

    def _spawn(self, name: str, argv: list[str]) -> None:
        child = self.supervisor.start(name, argv)
        self.stdout.write(f"  started {name} (pid {child.process.pid}), log: {child.log_path}")

    def _start_simexchange(self):
        url = urlsplit(settings.SIMEXCHANGE_URL)
        self._spawn(
            "simexchange",
            [
                PYTHON,
                "manage.py",
                "simexchange",
                "--host",
                url.hostname,
                "--port",
                str(url.port),
                "--seed",
                str(settings.SIMEXCHANGE_SEED),
                "--history-days",
                str(settings.SIMEXCHANGE_HISTORY_DAYS),
                "--state-file",
                str(settings.VAR_DIR / "simexchange-state.json"),
            ],
        )
        self._wait_for(f"{settings.SIMEXCHANGE_URL}/api/v3/ping", "simexchange")

    def _prepare_database(self):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Seeding the demo desk (idempotent)…")
        self.logins = demo_seed(
            username=os.environ.get("DESK_ADMIN_USER", "admin"),
            password=os.environ.get("DESK_ADMIN_PASSWORD") or None,
            report=self.stdout.write,
        )

    def _start_desk(self, host: str, port: int):
        self._spawn(
            "web",
            [
                PYTHON,
                "-m",
                "uvicorn",
                "tradedesk.asgi:application",
                "--host",
                host,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
        )
        self._spawn("worker", worker_command(TRADING_QUEUES, os.environ.get("WORKER_CONCURRENCY", "2"), "desk"))
        # Backtests on their own worker: minutes of CPU there never hold up an order here.
        self._spawn("research", worker_command(("research",), "1", "research"))
        self._spawn("alerts", worker_command(("alerts",), "1", "alerts"))
        self._spawn(
            "beat",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "tradedesk",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(settings.VAR_DIR / "celerybeat-schedule"),
            ],
        )
        if not settings.RELAY_IN_PROCESS:
            self._spawn("relay", [PYTHON, "manage.py", "relay"])
        self._wait_for(f"http://{host}:{port}/health", "web")
        self._print_banner(host, port)

    def _print_banner(self, host, port):
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  tradedesk is running:  http://{host}:{port}/\n"
                + "".join(_login_line(login) for login in self.logins)
                + f"  admin: http://{host}:{port}/admin/    Ctrl-C stops everything.\n"
                f"  logs:  {self.supervisor.log_dir}/<process>.log (a process that dies is restarted; noted below)\n"
            )
        )

    def _wait_for(self, url: str, name: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.supervisor.check_alive()
            try:
                if requests.get(url, timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise CommandError(f"{name} did not answer at {url} within {timeout:.0f}s")

    def _watch(self):
        while True:
            self.supervisor.tick()
            time.sleep(0.5)

    def _stop_all(self):
        for name in self.supervisor.stop_all():
            self.stdout.write(f"  {name} did not stop in time; killed")
        self.stdout.write("All desk processes stopped.")


def _login_line(login) -> str:
    if login.role == "admin":
        password = (
            login.password
            or "(shown when it was generated; see var/admin-password.txt, or `python manage.py changepassword admin`)"
        )
        return f"  login: {login.username} / {password}\n"
    password = login.password or f"(see var/{login.username}-password.txt, or `python manage.py changepassword {login.username}`)"
    return f"  login: {login.username} / {password}  ({login.role} of the {DEMO_ACCOUNT} account)\n"
