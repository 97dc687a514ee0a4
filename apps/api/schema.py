"""The OpenAPI schema's shared parts: the one error shape on every operation."""

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {
                    "type": "string",
                    "example": "not_found",
                    "description": "invalid, not_found, not_allowed, conflict, throttled, not_authenticated, ...",
                },
                "message": {"type": "string", "example": "no position #12 on your accounts"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Each bad field (or header, query parameter) and its messages, all at once",
                },
            },
        }
    },
}
ERRORS = {
    "400": "Bad request: a field, a filter or the JSON is wrong (every bad one is in `fields`)",
    "401": "No API key or session, or the key is unknown, revoked or expired",
    "403": "Your role or the token's scope does not allow this",
    "404": "No such object among your accounts",
    "429": "Too many requests: wait `Retry-After` seconds",
}
COMMAND_ERRORS = {
    "409": "The object's state forbids it now (already closed, a close on its way, the kill switch...)",
    "422": "The service refused the values, or the Idempotency-Key was used for another request",
}


def error_responses(result, generator, request, public):
    """Postprocessing hook: every operation may answer with the error shape."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            codes = ERRORS | (COMMAND_ERRORS if method in ("post", "put", "patch") else {})
            for code, description in codes.items():
                operation["responses"].setdefault(code, {"description": description, "content": ref})
    return result


SOCKET_GUIDE = """
## Live events: `/ws/events/`

A websocket for integrations, authenticated with an API token (`wss://<desk>/ws/events/?token=<key>`,
or an `Authorization: Bearer <key>` header) or a logged-in session. It sends what the token's user
sees on the pages: topics of the accounts the user is a member of, and the market data and desk-wide
topics every user sees. Any scope may subscribe (the socket only reads). A key that is unknown,
revoked or expired closes the socket with code 4401; so does a key revoked or expiring while its socket
is open, within a few seconds, before the next event (the close frame's reason says which).

1. Send `{"subscribe": ["orders.3", "positions.3"], "since": <the last event id you saw, or null>}`.
2. Each refused topic (another account's, or of no known shape) is answered with
   `{"type": "error", "message": "..."}`; then `{"type": "subscribed", "topics": [...], "resynced": n,
   "resync_truncated": false, "last_id": id}`. With `since`, the missed events come first (up to 5,000).
3. Then every event as `{"id", "kind", "topic", "payload"}`, ids strictly increasing: keep the last id,
   reconnect with it as `since` and nothing is lost.
4. Send `{"type": "ping"}` every few seconds; the desk answers `{"type": "pong"}`.

### Event catalogue

| kind | topic | seen by | payload fields |
|---|---|---|---|
"""


def events_documented(result, generator, request, public):
    """Postprocessing hook: the event socket and its catalogue (apps.common.events) in the docs."""
    from apps.common.events import KINDS, Audience

    seen_by = {
        Audience.EVERYONE: "every user",
        Audience.ACCOUNT: "the account's members",
        Audience.OWNER: "the user it names",
        Audience.ADMIN: "the administrators",
    }
    rows = [
        f"| `{kind.name}` | {' or '.join(f'`{topic.template}`' for topic in kind.topics)} "
        f"| {' / '.join(dict.fromkeys(seen_by[topic.audience] for topic in kind.topics))} "
        f"| {', '.join(sorted(kind.fields))} |"
        for kind in KINDS
    ]
    info = result.setdefault("info", {})
    info["description"] = info.get("description", "") + "\n" + SOCKET_GUIDE + "\n".join(rows) + "\n"
    return result


def links_added(result, generator, request, public):
    """Postprocessing hook: OpenAPI links from each list to its detail and to the commands and
    edits of one object (`id` of the first row), so that a client generator or a stateful fuzzer
    can walk from a page to an object."""
    paths = result.get("paths", {})
    for path, item in paths.items():
        listing = item.get("get")
        if not listing or "{" in path or "200" not in listing.get("responses", {}):
            continue
        links = {}
        for other, other_item in paths.items():
            if not other.startswith(f"{path}{{id}}/"):
                continue
            for method, operation in other_item.items():
                if method in ("get", "post", "patch", "put", "delete") and "operationId" in operation:
                    links[operation["operationId"]] = {
                        "operationId": operation["operationId"],
                        "parameters": {"id": "$response.body#/results/0/id"},
                    }
        if links:
            listing["responses"]["200"]["links"] = links
    return result
