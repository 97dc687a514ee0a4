"""Every error page is the desk's page (its header and stylesheet), never Django's bare one."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.views import defaults

pytestmark = pytest.mark.django_db


def looks_like_the_desk(page: str) -> bool:
    return "web/desk.css" in page and "tradedesk</a>" in page


def test_a_missing_page_is_the_desks_404(client):
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert looks_like_the_desk(page) and "Not found" in page and "/no-such-page/" in page


def test_a_refused_page_is_the_desks_403():
    request = RequestFactory().get("/admin/")
    response = defaults.permission_denied(request, PermissionDenied())
    page = response.content.decode()
    assert response.status_code == 403 and looks_like_the_desk(page) and "Not allowed" in page


def test_a_server_error_is_the_desks_500():
    response = defaults.server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500 and looks_like_the_desk(page) and "Something went wrong" in page
