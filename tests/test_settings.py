"""Settings come from the environment only; production refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_settings(**env) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "TRADEDESK_TESTING")
    }
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL.split(':')[0], s.CHANNEL_LAYERS['default']['BACKEND'], s.DEBUG)"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "tradedesk.settings", **env},
    )


def test_without_debug_the_desk_refuses_to_start_without_a_secret_key(tmp_path):
    result = _load_settings(FIELD_ENCRYPTION_KEY="x" * 44)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_without_debug_the_desk_refuses_to_start_without_the_field_encryption_key():
    result = _load_settings(SECRET_KEY="s" * 50)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY is not set" in result.stderr


def test_nothing_set_but_secrets_gives_the_embedded_desk_with_debug_off():
    result = _load_settings(SECRET_KEY="s" * 50, FIELD_ENCRYPTION_KEY="k" * 44)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem", "channels.layers.InMemoryChannelLayer", "False"]


def test_database_and_redis_urls_switch_to_the_production_runtime():
    result = _load_settings(
        SECRET_KEY="s" * 50,
        FIELD_ENCRYPTION_KEY="k" * 44,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/tradedesk",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis", "apps.web.layers.DeskRedisChannelLayer", "False"]


def test_every_variable_the_settings_read_is_documented_in_env_example():
    settings_source = (ROOT / "tradedesk" / "settings.py").read_text()
    documented = {
        line.split("=")[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    import re

    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', settings_source)) | set(
        re.findall(r'_required_secret\(\s*"([A-Z_]+)"', settings_source)
    )
    assert read - {"TRADEDESK_TESTING"} <= documented, read - documented
