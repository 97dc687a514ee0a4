"""Liveness, readiness and the deep check; the Prometheus metrics (behind a bearer token)."""

import hmac
import time

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from apps.common.metrics import scrape_text
from apps.trading.holdings_gate import gate_health
from apps.web.health_checks import deep_checks, readiness_checks

SERVICE = "tradedesk"
_STARTED = time.monotonic()  # the URL configuration loads as the process starts serving


def liveness(request):
    """Cheap on purpose (probes and the API load baseline call it often): this process answers."""
    return JsonResponse(
        {"status": "ok", "service": SERVICE, "uptime_seconds": round(time.monotonic() - _STARTED, 1), "checks": {"process": "ok"}}
    )


def readiness(request):
    """Ready = the parts answer. The start gate is reported beside them, not as a failure: while
    it is closed the desk serves its pages and sends exits, only new entries wait."""
    return _checks_answer(readiness_checks(), ok_word="ready", failed_word="not ready", trading_gate=gate_health())


def deep(request):
    """Everything the desk depends on, each timed: staff or the metrics token only (it names
    internals and writes to the database)."""
    refused = _deep_refusal(request)
    if refused:
        return refused
    return _checks_answer(deep_checks(), ok_word="ok", failed_word="degraded")


def _checks_answer(checks: dict, *, ok_word: str, failed_word: str, **beside) -> JsonResponse:
    ok = all(check["ok"] for check in checks.values())
    body = {"status": ok_word if ok else failed_word, "service": SERVICE, "uptime_seconds": round(time.monotonic() - _STARTED, 1)}
    return JsonResponse({**body, "checks": checks, **beside}, status=200 if ok else 503)


def _deep_refusal(request) -> JsonResponse | None:
    if _bearer_token_matches(request.headers.get("Authorization", ""), settings.METRICS_TOKEN):
        return None
    user = request.user
    if user.is_authenticated and user.is_staff:
        return None
    if user.is_authenticated:
        return JsonResponse({"status": "forbidden", "detail": "/health/deep is for staff users"}, status=403)
    response = JsonResponse(
        {"status": "unauthorized", "detail": "log in as staff, or send 'Authorization: Bearer <METRICS_TOKEN>'"}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="health"'
    return response


def metrics(request):
    """Every account's positions, P&L and order counts: only for a scraper holding METRICS_TOKEN.
    With no token configured nobody gets in (an open /metrics is never the default)."""
    if not _bearer_token_matches(request.headers.get("Authorization", ""), settings.METRICS_TOKEN):
        response = HttpResponse(
            "401 Unauthorized: /metrics needs the header 'Authorization: Bearer <METRICS_TOKEN>'"
            + ("" if settings.METRICS_TOKEN else " (METRICS_TOKEN is not set on this desk)")
            + ".\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(scrape_text(), content_type=CONTENT_TYPE_LATEST)


def _bearer_token_matches(header: str, expected: str) -> bool:
    scheme, _, token = header.partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())
