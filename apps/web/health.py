"""Liveness and readiness probes, and the Prometheus metrics (behind a bearer token)."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from apps.common.metrics import scrape_text
from apps.web.health_checks import readiness_checks


def liveness(request):
    return JsonResponse({"status": "ok"})


def readiness(request):
    checks = readiness_checks()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)


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
