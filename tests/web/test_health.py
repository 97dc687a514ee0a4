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


@pytest.mark.usefixtures("eager_tasks")
def test_metrics_expose_orders_positions_and_the_kill_switch(client, django_capture_on_commit_callbacks):
    from decimal import Decimal as D

    from apps.risk.services import kill_switch_set
    from apps.trading.services.placement import signal_execute
    from tests.trading.factories import account_make, fresh_market, signal_make, strategy_make

    account = account_make(name="paper-desk")
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"))
    with django_capture_on_commit_callbacks(execute=True):
        signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    kill_switch_set(actor=None, account=account, state="reduce_only", reason="end of day")

    text = client.get("/metrics").content.decode()

    assert 'tradedesk_orders{account="paper-desk",status="filled"} 1.0' in text
    assert 'tradedesk_signals{account="paper-desk",status="accepted"} 1.0' in text
    assert 'tradedesk_position_amount{account="paper-desk",market="BTC/USDT"} 10.0' in text
    assert 'tradedesk_kill_switch{account="paper-desk"} 1.0' in text
    assert f'tradedesk_strategy_consecutive_failures{{strategy="{strategy.name}"}} 0.0' in text
