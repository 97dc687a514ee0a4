"""Browser and HTTPS hardening: a Content-Security-Policy on every page, `check --deploy` clean with
the production variables, probes reachable over HTTP behind the SSL redirect, and no password
reset form without a mail server."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "desk.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://desk.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_PROXY_SSL_HEADER": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
}


def test_check_deploy_reports_nothing_with_the_production_variables(tmp_path):
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "TRADEDESK_TESTING", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        PRODUCTION,
        VAR_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.django_db
def test_every_page_carries_a_policy_that_loads_nothing_from_outside(client, trader, settings):
    client.force_login(trader)

    for url in ("/", "/accounts/login/", "/admin/login/"):
        policy = dict(part.strip().split(" ", 1) for part in client.get(url)["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'self'", url
        assert policy["script-src"] == "'self'", url
        assert policy["style-src"].split() == ["'self'", settings.CHART_LOGO_STYLE_HASH], url
        assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'", url


@pytest.mark.django_db
def test_behind_the_ssl_redirect_pages_move_to_https_but_probes_answer_over_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/accounts/login/")["Location"] == "https://testserver/accounts/login/"
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 401  # reached, and refused for want of a token


@pytest.mark.django_db
def test_without_a_mail_server_the_password_reset_form_is_off_and_says_what_to_do(client, trader):
    page = client.get("/accounts/password_reset/")
    sent = client.post("/accounts/password_reset/", {"email": "trader@example.com"})

    assert page.status_code == sent.status_code == 404
    assert "Password reset by email is off on this desk" in page.content.decode()
    assert "manage.py changepassword" in page.content.decode()
    assert mail.outbox == []


@pytest.mark.django_db
def test_with_a_mail_server_the_password_reset_form_is_offered(client, settings):
    import importlib

    from django.urls import clear_url_caches

    import tradedesk.urls

    settings.EMAIL_CONFIGURED = True
    try:
        importlib.reload(tradedesk.urls)
        clear_url_caches()
        assert client.get("/accounts/password_reset/").status_code == 200
    finally:
        settings.EMAIL_CONFIGURED = False
        importlib.reload(tradedesk.urls)
        clear_url_caches()
