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
