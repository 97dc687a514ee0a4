"""Requests refused before any view runs."""

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
