"""Liveness and readiness probes."""

from django.http import JsonResponse

from apps.web.health_checks import readiness_checks


def liveness(request):
    return JsonResponse({"status": "ok"})


def readiness(request):
    checks = readiness_checks()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)
