"""Requests refused before any view runs, and the server's time on each answer."""

import time
from urllib.parse import unquote_plus

from django.http import JsonResponse
from django.shortcuts import render

NUL_MESSAGE = "The address contains a NUL character (%00), which is never valid here. Remove it and try again."


class NulByteRefusedMiddleware:
    """A NUL byte in the path or the query string gets a 400 with a message, for every view.

    PostgreSQL refuses NUL in text, so a filter or lookup that reached the database with one
    (an admin changelist filter, a market id in the candles URL) ended in a 500. Refusing it here
    covers every view and every filter at once; form bodies are already checked by Django's
    form fields (ProhibitNullCharactersValidator)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "\x00" in unquote_plus(request.META.get("QUERY_STRING", "")):
            return nul_refused(request)
        return self.get_response(request)


def nul_refused(request):
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        # The API's one error shape (apps/api/errors.py), also for the pages' JSON.
        return JsonResponse({"error": {"code": "bad_request", "message": NUL_MESSAGE, "fields": {}}}, status=400)
    return render(request, "web/error.html", {"message": NUL_MESSAGE}, status=400)


class ServerTimingMiddleware:
    """Every answer says how long the server worked on it: `Server-Timing: db;dur=4.1;desc="6
    queries", total;dur=23.5, cpu;dur=15.2` (ms, from this middleware, first in the chain, to
    the response), so a browser's devtools and bench/pages.py read the server's time apart from
    the network and any queue in front of the process. `cpu` is the processor time the
    request's thread spent (the view and its templates run on it): unlike `total` it does not
    grow while the process waits for a core, so a figure taken on a loaded machine still
    compares. Only for a signed-in person or a token bearer: how much work a request cost is
    nobody else's business. SERVER_TIMING=false leaves it out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.db import connection

        spent = _QueryTimer()
        started, cpu_started = time.perf_counter(), time.thread_time()
        with connection.execute_wrapper(spent):
            response = self.get_response(request)
        total, cpu = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu_started) * 1000
        if not _identified(request):
            return response
        response["Server-Timing"] = (
            f'db;dur={spent.ms:.1f};desc="{spent.count} queries", total;dur={total:.1f}, cpu;dur={cpu:.1f}'
        )
        return response


def _identified(request) -> bool:
    if request.META.get("HTTP_AUTHORIZATION"):
        return True
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated)


class _QueryTimer:
    def __init__(self):
        self.count, self.ms = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.ms += (time.perf_counter() - started) * 1000
