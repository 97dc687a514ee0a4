"""Run one benchmark body per database backend, each in a fresh process and database, so
SQLite and PostgreSQL figures are printed side by side from one command."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/bench_tradedesk")


def django_setup() -> None:
    """For the child process: the desk's settings on the DATABASE_URL it was given, migrated."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradedesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def postgres_reset() -> None:
    import psycopg

    admin_url = PG_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_tradedesk")
        conn.execute("CREATE DATABASE bench_tradedesk")


def per_backend(script: str, child_args: list[str]) -> dict[str, dict | str]:
    """Run `script --child *child_args` once per backend; each prints one JSON line last."""
    results: dict[str, dict | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in {"sqlite": f"sqlite:///{tmp}/bench.sqlite3", "postgresql": PG_URL}.items():
            if name == "postgresql":
                try:
                    postgres_reset()
                except Exception as exc:
                    results[name] = f"skipped: {exc}"
                    continue
            env = {**os.environ, "DATABASE_URL": url, "TRADEDESK_TESTING": "1", "LOG_LEVEL": "WARNING"}
            out = subprocess.run(
                [sys.executable, script, "--child", *child_args], env=env, capture_output=True, text=True, check=True, cwd=ROOT
            )
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    return results
