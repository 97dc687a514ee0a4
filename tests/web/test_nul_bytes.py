"""A NUL byte in the address gets a 400 with a message from every view, never a 500 from
PostgreSQL ("A string literal cannot contain NUL (0x00) characters")."""

import pytest

from apps.web.middleware import NUL_MESSAGE

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ADMIN_URLS = [
    "/admin/trading/order/?status__exact=%00",
    "/admin/trading/order/?q=%00",
    "/admin/markets/market/?exchange__code__exact=abc%00def",
    "/admin/markets/candle/?market__id__exact=1&timeframe=%00",
    "/admin/markets/market/%00/change/",
]
PAGE_URLS = ["/markets/%00/", "/markets/BTC-USDT/?tf=%00", "/accounts/login/?next=/%00", "/?x=%00"]


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser(username="boss", email="", password="x" * 20))
    return client


@pytest.mark.parametrize("url", ADMIN_URLS + PAGE_URLS)
def test_a_nul_byte_in_a_page_address_is_refused_with_a_message(staff, seeded_market, url):
    response = staff.get(url)

    assert response.status_code == 400, url
    assert NUL_MESSAGE in response.content.decode()


@pytest.mark.parametrize(
    "url", ["/api/markets/%00/candles", "/api/markets/1/candles?tf=%00", "/api/markets/1/candles?limit=1%00"]
)
def test_a_nul_byte_in_the_candles_api_is_refused_as_json(staff, seeded_market, url):
    response = staff.get(url)

    assert response.status_code == 400, url
    assert response.json() == {"error": {"code": "bad_request", "message": NUL_MESSAGE, "fields": {}}}


def test_a_nul_byte_in_a_login_attempt_is_refused_before_anything_is_counted(client):
    response = client.post("/accounts/login/?next=%00", {"username": "trader", "password": "x"})

    assert response.status_code == 400
