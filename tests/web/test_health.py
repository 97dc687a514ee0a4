import pytest

from tests.markets.factories import market_make

pytestmark = pytest.mark.django_db


def test_liveness_answers_without_touching_anything(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readiness_is_200_when_database_broker_layer_and_exchange_answer(client, sim):
    market_make(api_url=sim.url)

    response = client.get("/health/ready")

    body = response.json()
    assert response.status_code == 200, body
    assert {name for name, check in body["checks"].items() if check["ok"]} == {"database", "broker", "channel_layer", "exchange"}


def test_readiness_is_503_and_names_the_exchange_when_it_is_down(client):
    market_make(api_url="http://127.0.0.1:9")

    response = client.get("/health/ready")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "not ready"
    assert not body["checks"]["exchange"]["ok"] and body["checks"]["database"]["ok"]


def test_metrics_expose_collector_figures(client, collector):
    from apps.markets.services import candles_store
    from tests.markets.factories import candle_rows

    candles_store(collector=collector, rows=candle_rows(count=3))

    text = client.get("/metrics").content.decode()

    assert 'tradedesk_candles_stored_total{market="BTC/USDT",timeframe="1m"} 3.0' in text
    assert "tradedesk_candle_data_age_seconds" in text
