"""CI step: schemathesis against the live schema of the desk under uvicorn, as a trader's
token, every endpoint (the POST commands and writes included) and the stateful phase (links
schemathesis infers: an id one answer gives, used by the next request). Fails on any 5xx or
answer that does not match its schema. A database of its own, seeded small (bench/seed_desk.py);
commands run their tasks in the process (paper accounts: no exchange needed).

    .venv/bin/python .ci/api_contract.py [--max-examples 10]
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_load import free_port, uvicorn_start  # noqa: E402  (path first)
from bench.seed_desk import bench_database, desk_seed, django_ready  # noqa: E402

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    name = (os.environ.get("DATABASE_URL") or "tradedesk").rsplit("/", 1)[-1] + "_api_contract"
    url = bench_database(name)
    django_ready()
    seed = desk_seed(accounts=2, markets=4, strategies=3, positions=6, orders=40, candles=400, snapshot_hours=48)
    key = next(iter(seed.keys.values()))
    from django.db import connections

    connections.close_all()
    with tempfile.TemporaryDirectory() as var:
        env = {"CELERY_TASK_ALWAYS_EAGER": "true", "VAR_DIR": var, "API_THROTTLE_COMMANDS": "10000000/min"}
        port = free_port()
        server = uvicorn_start(url, port, extra_env=env)
        try:
            command = [
                str(ROOT / ".venv/bin/schemathesis"),
                "run",
                f"http://127.0.0.1:{port}/api/schema/?format=json",
                "--header",
                f"Authorization: Bearer {key}",
                "--checks",
                CHECKS,
                "--phases",
                "examples,fuzzing,stateful",
                "--max-examples",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--no-shrink",
                "--suppress-health-check",
                "all",
            ]
            return subprocess.run(command, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"}).returncode
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
