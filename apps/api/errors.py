"""One error shape for every refusal: {"error": {"code", "message", "fields": {...}}}.

ApplicationError from the services (not_found 404, not_allowed 403, invalid 422, conflict 409)
and DRF's own exceptions (bad JSON, validation 400, 401, 403, 404, 405, 429) go through here;
headers DRF sets (Retry-After, WWW-Authenticate) are kept."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.common.errors import ApplicationError, Conflict, Invalid, NotAllowed, NotFound

APPLICATION_STATUS = {NotFound: 404, NotAllowed: 403, Invalid: 422, Conflict: 409}
DRF_CODES = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "not_allowed",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        code = next((value for cls, value in APPLICATION_STATUS.items() if isinstance(exc, cls)), 400)
        return Response(error_body(exc.code, exc.message, exc.fields), status=code)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 (logged), never dressed up as the client's fault
    if isinstance(exc, (Http404, DjangoPermissionDenied)):
        exc = exceptions.NotFound() if isinstance(exc, Http404) else exceptions.PermissionDenied()
    code = next((value for cls, value in DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(exc.detail)
        message = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        response.data = error_body(code, message or "The request is not valid.", fields)
    else:
        response.data = error_body(code, str(getattr(exc, "detail", exc)))
    return response


def _fields(detail) -> dict[str, list[str]]:
    """DRF's nested detail as field -> messages ("non_field_errors" for the request as a whole)."""
    if isinstance(detail, dict):
        flat = {}
        for name, value in detail.items():
            for sub, msgs in _fields(value).items():
                flat[name if sub == "non_field_errors" else f"{name}.{sub}"] = msgs
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {"non_field_errors": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            for sub, msgs in _fields(item).items():
                flat[str(index) if sub == "non_field_errors" else f"{index}.{sub}"] = msgs
        return flat
    return {"non_field_errors": [str(detail)]}


@csrf_exempt  # it changes nothing: a POST to a path of no endpoint is a JSON 404, not the HTML CSRF page
def not_found_view(request, exception=None):
    """A path under /api/ that names nothing: the same shape, not the HTML 404 page."""
    from django.http import JsonResponse

    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=status.HTTP_404_NOT_FOUND)
