"""List pages answered from the cache while nothing they show has changed.

A page is kept as the bytes DRF rendered, under a key made of everything the answer depends on:
the state of the data (the view's `page_version` selector: the orders version of each account
the user sees, bumped by database triggers on every write, whoever makes it), the accounts the
user sees (in that same state), the full URL (host, path, query string: the cursor links are
absolute), the media type negotiated, and the code that renders it (the source of the API's
serializers, selectors, filters and paging, and the settings of DRF). Two users who see the same
accounts share pages; a user who sees other accounts can never get them.

What is never cached: who may ask. DRF authenticates the token, checks the role and throttles
before `list` runs, on every request, hit or miss.

Not cached: on SQLite (no triggers bump the version), inside a transaction (what it reads may
not be committed, and must not be served to anyone else), answers other than 200, and when the
cache fails (the page is made as if there were no cache).

Each answer carries an ETag (a hash of the bytes); a request whose If-None-Match names the
cached page's ETag gets 304 Not Modified."""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path

import django
import rest_framework
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags

log = logging.getLogger(__name__)

KEY_PREFIX = "api-page:"
_RENDERING_MODULES = (
    "apps.api.serializers",
    "apps.api.fast",
    "apps.api.selectors",
    "apps.api.filters",
    "apps.api.pagination",
    "apps.api.views",
    "apps.api.page_cache",
)


def _code_fingerprint() -> str:
    """What renders a page: a change to any of it (a deploy) makes new keys."""
    digest = hashlib.sha256(f"{django.get_version()} {rest_framework.VERSION}".encode())
    digest.update(repr(sorted(settings.REST_FRAMEWORK.items())).encode())
    digest.update(f"{settings.TIME_ZONE} {settings.USE_TZ}".encode())
    database = settings.DATABASES["default"]
    digest.update(f"{database.get('HOST')} {database.get('PORT')} {database.get('NAME')}".encode())
    for name in _RENDERING_MODULES:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        try:
            digest.update(Path(path).read_bytes() if path else name.encode())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()[:16]


_fingerprint: str | None = None


def page_cache_on() -> bool:
    return getattr(settings, "API_PAGE_CACHE", True) and connection.vendor == "postgresql" and not connection.in_atomic_block


def page_key(request, state: str) -> str:
    global _fingerprint
    if _fingerprint is None:
        _fingerprint = _code_fingerprint()
    parts = (_fingerprint, state, request.accepted_media_type or "", request.build_absolute_uri())
    return KEY_PREFIX + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def etag_of(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def _matches(request, etag: str) -> bool:
    asked = request.META.get("HTTP_IF_NONE_MATCH")
    if not asked:
        return False
    tags = parse_etags(asked)
    return "*" in tags or etag in tags or any(tag.removeprefix("W/") == etag for tag in tags)


def _cached(key: str):
    try:
        return cache.get(key)
    except Exception:  # a cache that fails must not fail the request: the page is made instead
        log.warning("page cache read failed", exc_info=True)
        return None


def _keep(key: str, response) -> None:
    if response.status_code != 200:
        return
    body = response.content
    etag = etag_of(body)
    response["ETag"] = etag
    try:
        cache.set(key, (etag, response["Content-Type"], body), getattr(settings, "API_PAGE_CACHE_SECONDS", 300))
    except Exception:
        log.warning("page cache write failed", exc_info=True)


def cached_page(request, *, state, make):
    """The page from the cache, or `make()`'s (a DRF Response, kept once rendered). `state()`
    gives the version of what the page shows. A page is made in one snapshot with the state it is
    kept under (REPEATABLE READ): a write or a membership change committed meanwhile can neither
    put newer rows under an older key nor another account's rows under a key without it."""
    if not page_cache_on():
        return make()
    hit = _cached(page_key(request, state()))
    if hit is not None:
        etag, content_type, body = hit
        if _matches(request, etag):
            response = HttpResponseNotModified()
        else:
            response = HttpResponse(body, content_type=content_type)
        response["ETag"] = etag
        return response
    with transaction.atomic():
        with connection.cursor() as cursor:  # the transaction's first statement
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        key = page_key(request, state())
        response = make()
    if response.status_code == 200:
        response.add_post_render_callback(lambda rendered: _keep(key, rendered))
    return response


class CachedPages:
    """On a read viewset: `page_version` (a selector: user -> str) names the state of the data
    its list shows; the list answers from the cache while that state is unchanged."""

    page_version = None

    def list(self, request, *args, **kwargs):  # no docstring: the schema takes the action's as its description
        return cached_page(
            request,
            state=lambda: type(self).page_version(user=request.user),
            make=lambda: super(CachedPages, self).list(request, *args, **kwargs),
        )
