"""Pages and the candles JSON: login required, exact prices, clear errors."""

from decimal import Decimal

import pytest

from apps.common.models import Event
from apps.markets.models import Candle

pytestmark = pytest.mark.django_db


def test_the_market_page_sends_an_anonymous_visitor_to_log_in(client, seeded_market):
    response = client.get(f"/markets/{seeded_market.pk}/?tf=1m")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/markets/{seeded_market.pk}/%3Ftf%3D1m"


def test_the_dashboard_sends_an_anonymous_visitor_to_log_in(client):
    assert client.get("/")["Location"].startswith("/accounts/login/")


def test_the_candles_api_answers_an_anonymous_caller_with_401_not_data(client, seeded_market):
    response = client.get(f"/api/markets/{seeded_market.pk}/candles?tf=1m")

    assert response.status_code == 401
    assert response.json() == {"error": "Log in to read market data."}


def test_a_trader_logs_in_through_the_login_page_and_lands_on_the_market(client, trader, seeded_market):
    page = client.get("/accounts/login/")
    assert b"Log in to your desk" in page.content

    response = client.post(
        "/accounts/login/", {"username": "trader", "password": "correct-horse-battery", "next": f"/markets/{seeded_market.pk}/"}
    )

    assert response.status_code == 302 and response["Location"] == f"/markets/{seeded_market.pk}/"


def test_a_wrong_password_is_refused_with_a_message(client, trader):
    response = client.post("/accounts/login/", {"username": "trader", "password": "nope"})

    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_the_market_page_can_be_opened_by_id_or_by_slug(client, trader, seeded_market):
    client.force_login(trader)

    by_id = client.get(f"/markets/{seeded_market.pk}/?tf=15m")
    by_slug = client.get("/markets/BTC-USDT/")

    assert by_id.status_code == by_slug.status_code == 200
    assert b'"topic": "candles.BTC-USDT.15m"' in by_id.content
    assert b'"topic": "candles.BTC-USDT.1m"' in by_slug.content
    assert b"lightweight-charts.standalone.production.js" in by_id.content


def test_an_unknown_timeframe_gets_a_clear_400_page(client, trader, seeded_market):
    client.force_login(trader)

    response = client.get(f"/markets/{seeded_market.pk}/?tf=7m")

    assert response.status_code == 400
    assert b"Unknown timeframe" in response.content


def test_the_dashboard_lists_each_market_with_its_last_price_and_collector(client, trader, seeded_market):
    client.force_login(trader)
    newest = Candle.objects.filter(market=seeded_market).order_by("-open_time").first()

    content = client.get("/").content.decode()

    assert "BTC/USDT" in content
    assert f">{newest.close.quantize(seeded_market.price_precision)}<" in content  # on the market's tick
    assert str(newest.close) not in content  # never the storage scale's zeros
    assert "1m fresh" in content


def test_the_candles_api_returns_the_newest_candles_oldest_first_with_exact_prices(client, trader, seeded_market):
    client.force_login(trader)
    Event.objects.create(topic="candles.BTC-USDT.1m", kind="candle.closed", payload={})
    newest = Candle.objects.filter(market=seeded_market).order_by("-open_time")[:50]

    body = client.get(f"/api/markets/{seeded_market.pk}/candles?tf=1m&limit=50").json()

    times = [c["time"] for c in body["candles"]]
    assert times == sorted(times) and len(times) == 50
    assert times[-1] == int(newest[0].open_time.timestamp())
    assert Decimal(body["candles"][-1]["close"]) == newest[0].close
    assert isinstance(body["candles"][-1]["close"], str)
    assert body["last_event_id"] == Event.objects.latest("id").id
    assert body["collector"]["fresh"] is True


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tf=2w", "Unknown timeframe '2w'"),
        ("tf=1m&limit=lots", "limit must be a whole number of candles."),
        ("tf=1m&limit=0", "limit must be between 1 and 5000."),
    ],
)
def test_the_candles_api_explains_bad_requests(client, trader, seeded_market, query, message):
    client.force_login(trader)

    response = client.get(f"/api/markets/{seeded_market.pk}/candles?{query}")

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_an_unknown_market_is_a_404(client, trader):
    client.force_login(trader)

    assert client.get("/api/markets/ZZZ-USDT/candles").status_code == 404
    assert client.get("/markets/999999/").status_code == 404
