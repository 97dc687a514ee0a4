import pytest

from tests.markets.factories import market_make

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "scrape-token-for-tests"


@pytest.fixture
def scrape(client, settings):
    """GET /metrics as Prometheus does: with the desk's bearer token."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    return lambda: client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})


def test_liveness_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")

    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["service"], body["checks"]) == ("ok", "tradedesk", {"process": "ok"})
    assert body["uptime_seconds"] >= 0


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


def test_metrics_expose_collector_figures(scrape, collector):
    from apps.markets.services import candles_store
    from tests.markets.factories import candle_rows

    candles_store(collector=collector, rows=candle_rows(count=3))

    text = scrape().content.decode()

    assert 'tradedesk_candles_stored_total{market="BTC/USDT",timeframe="1m"} 3.0' in text
    assert "tradedesk_candle_data_age_seconds" in text


@pytest.mark.usefixtures("eager_tasks")
def test_metrics_expose_orders_positions_and_the_kill_switch(scrape, django_capture_on_commit_callbacks):
    from decimal import Decimal as D

    from apps.risk.services import kill_switch_set
    from apps.trading.services.placement import signal_execute
    from tests.trading.factories import (
        account_make,
        fresh_market,
        signal_make,
        strategy_make,
    )

    account = account_make(name="paper-desk")
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"))
    with django_capture_on_commit_callbacks(execute=True):
        signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    kill_switch_set(actor=None, account=account, state="reduce_only", reason="end of day")

    text = scrape().content.decode()

    assert 'tradedesk_orders{account="paper-desk",status="filled"} 1.0' in text
    assert 'tradedesk_signals{account="paper-desk",status="accepted"} 1.0' in text
    assert 'tradedesk_position_amount{account="paper-desk",market="BTC/USDT"} 10.0' in text
    assert 'tradedesk_kill_switch{account="paper-desk"} 1.0' in text
    assert f'tradedesk_strategy_consecutive_failures{{strategy="{strategy.name}"}} 0.0' in text


def test_metrics_without_a_token_are_refused_with_401(client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN

    response = client.get("/metrics")

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.content.decode()
    assert b"tradedesk_" not in response.content


def test_metrics_with_a_wrong_token_are_refused_with_401(client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN

    for header in (f"Bearer {METRICS_TOKEN}x", "Bearer ", f"Basic {METRICS_TOKEN}", METRICS_TOKEN):
        assert client.get("/metrics", headers={"Authorization": header}).status_code == 401, header


def test_metrics_stay_closed_when_the_desk_has_no_token(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_metrics_with_the_token_answer_in_prometheus_format(scrape):
    response = scrape()

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "tradedesk_candle_data_age_seconds" in response.content.decode()


def test_every_answer_says_how_long_the_server_worked_and_how_many_queries_it_made(client):
    import re

    assert "Server-Timing" not in client.get("/health")  # not to a stranger: what a request costs is the desk's business

    from tests.access import desk_user

    client.force_login(desk_user("tess", role="viewer", accounts=[]))
    timing = re.compile(r'^db;dur=([\d.]+);desc="(\d+) queries", total;dur=([\d.]+), cpu;dur=([\d.]+)$')

    page = timing.match(client.get("/positions/")["Server-Timing"])
    health = timing.match(client.get("/health")["Server-Timing"])

    assert int(page.group(2)) > 0 and float(page.group(3)) >= float(page.group(1)) > 0
    # the processor time of the request's thread: some, and within its wall time
    assert 0 < float(page.group(4)) <= float(page.group(3)) + 1
    assert health.group(2) == "0" and float(health.group(3)) > 0
