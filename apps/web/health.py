"""Liveness and readiness probes, and the Prometheus metrics (behind a bearer token)."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django_prometheus.exports import ExportToDjangoView

from apps.trading.holdings_gate import gate_health
from apps.web.health_checks import readiness_checks


def liveness(request):
    return JsonResponse({"status": "ok"})


def readiness(request):
    """Ready = the parts answer. The start gate is reported beside them, not as a failure: while
    it is closed the desk serves its pages and sends exits, only new entries wait."""
    checks = readiness_checks()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks, "trading_gate": gate_health()},
        status=200 if ready else 503,
    )


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
    return ExportToDjangoView(request)


def _bearer_token_matches(header: str, expected: str) -> bool:
    scheme, _, token = header.partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())
