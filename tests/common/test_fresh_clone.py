"""`make run` then `make test` on a fresh clone: the .env that `make run` writes must not change
what the tests see (it used to make the "refuses to start without a secret" tests pass by luck
of the developer's file, or fail)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "var", ".env", "__pycache__", ".pytest_cache", ".hypothesis", "reports", "node_modules", "staticfiles"
)


def fresh_clone(target: Path) -> Path:
    """The project as a clone has it (tracked files, no .env), sharing this checkout's venv."""
    shutil.copytree(ROOT, target, ignore=NOT_IN_A_CLONE)
    (target / "var").mkdir()
    (target / ".venv").symlink_to(sys.prefix)  # the environment running these tests
    return target


def a_developers_shell() -> dict:
    """The environment `make test` sees in a terminal: no test-suite variables, no services."""
    dropped = (
        "DESK_ENV_FILE",
        "DATABASE_URL",
        "REDIS_URL",
        "TRADEDESK_TESTING",
        "DJANGO_SETTINGS_MODULE",
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEY",
        "PYTEST_ADDOPTS",
        "PYTEST_CURRENT_TEST",
        "CI",
        "PROMETHEUS_MULTIPROC_DIR",  # this test run's metrics folder
    )
    return {name: value for name, value in os.environ.items() if name not in dropped}


@pytest.mark.slow
def test_the_settings_tests_pass_after_make_run_wrote_its_env_file(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    shell = a_developers_shell()

    setup = subprocess.run(["make", ".env"], cwd=clone, env=shell, capture_output=True, text=True, timeout=120, check=False)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "SECRET_KEY=" in (clone / ".env").read_text()

    tests = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-m", "pytest", "tests/test_settings.py", "-q", "-p", "no:cacheprovider"],
        cwd=clone,
        env=shell,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout
