"""Commands through the API on the simulated exchange (the real ccxt client): a trader token
closes a position, audited as the token's user; a retried Idempotency-Key sends no second
order; a viewer's token (or any read token) is refused every command."""

from decimal import Decimal as D

import pytest

from apps.common.models import AuditEntry
from apps.risk.models import KillSwitch
from apps.trading.models import Order, Position
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from apps.trading.venue_health import venue_success_record
from tests.simulated_exchange import TEST_API_KEY, simexchange_running
from tests.trading.factories import signal_make, strategy_make
from tests.trading.people import books_agree_with_the_exchange, person_make
from tests.trading.sim import sim_desk, sim_orders

from .conftest import client_with, token_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def sim():
    with simexchange_running(seed=7, history_days=0.05) as exchange:
        yield exchange


@pytest.fixture
def desk(sim):
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
    yield account, market, strategy
    venue_success_record(account_id=account.pk)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what the service queued on commit (the order's submission), as a worker would."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


def bought(strategy, market) -> Position:
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "filled", order.reason
    return Position.objects.get(account=strategy.account, market=market)


def test_a_trader_token_closes_a_position_on_the_exchange_and_a_retry_sends_nothing(desk, sim, commit):
    account, market, strategy = desk
    tina = person_make("tina", role="trader", accounts=[account])
    trader = client_with(token_for(tina, "trade"))
    position = bought(strategy, market)
    url, body, key = f"/api/v1/positions/{position.pk}/close/", {"reason": "news"}, {"HTTP_IDEMPOTENCY_KEY": "close-1"}

    first = commit(lambda: trader.post(url, body, format="json", **key))

    assert first.status_code == 200, first.content
    answer = first.json()
    assert answer["order"]["side"] == "sell" and answer["order"]["status"] == "new"  # answered before the worker sends it
    assert Order.objects.get(pk=answer["order"]["id"]).status == "filled"
    assert answer["position"]["id"] == position.pk
    [entry] = AuditEntry.objects.filter(action="position.close")
    assert (entry.who, entry.via, entry.outcome, entry.reason) == (tina, "api", "done", "news")
    orders_after_first = len(sim_orders(sim))

    retry = commit(lambda: trader.post(url, body, format="json", **key))

    assert retry.status_code == 200 and retry.json() == answer
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(sim_orders(sim)) == orders_after_first == Order.objects.filter(account=account).count() == 2
    assert AuditEntry.objects.filter(action="position.close").count() == 1
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)

    reused = trader.post(url, {"reason": "something else"}, format="json", **key)
    assert reused.status_code == 422 and "Idempotency-Key" in reused.json()["error"]["fields"]


def test_a_refusal_is_an_answer_too_a_retry_gets_the_same_conflict(desk, sim, commit):
    account, market, strategy = desk
    trader = client_with(token_for(person_make("tina", role="trader", accounts=[account]), "trade"))
    position = bought(strategy, market)
    commit(lambda: trader.post(f"/api/v1/positions/{position.pk}/close/", {}, format="json"))

    again = [
        trader.post(f"/api/v1/positions/{position.pk}/close/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k2") for _ in range(2)
    ]

    assert [response.status_code for response in again] == [409, 409]
    assert again[0].json() == again[1].json() and again[0].json()["error"]["code"] == "conflict"
    assert AuditEntry.objects.filter(action="position.close", outcome="refused").count() == 1


def test_a_viewer_token_may_send_no_command(desk, sim):
    account, market, strategy = desk
    position = bought(strategy, market)
    viewer = client_with(token_for(person_make("victor", role="viewer", accounts=[account]), "read"))
    order = Order.objects.filter(account=account).first()
    posts = [
        f"/api/v1/positions/{position.pk}/close/",
        f"/api/v1/orders/{order.pk}/cancel/",
        f"/api/v1/accounts/{account.pk}/flatten/",
        f"/api/v1/strategies/{strategy.pk}/start/",
        f"/api/v1/strategies/{strategy.pk}/pause/",
        f"/api/v1/strategies/{strategy.pk}/stop/",
        "/api/v1/kill-switches/set/",
    ]
    orders_before = len(sim_orders(sim))

    answers = [viewer.post(url, {"state": "halted", "account": account.pk}, format="json") for url in posts]

    assert [answer.status_code for answer in answers] == [403] * len(posts)
    assert {answer.json()["error"]["code"] for answer in answers} == {"not_allowed"}
    assert len(sim_orders(sim)) == orders_before
    position.refresh_from_db()
    assert position.amount > 0 and not KillSwitch.objects.filter(account=account, state="halted").exists()


def test_a_trade_token_of_a_viewer_is_still_a_viewer_and_the_refusal_is_audited(desk, sim):
    account, market, strategy = desk
    victor = person_make("victor", role="viewer", accounts=[account])
    client = client_with(token_for(victor, "trade"))

    response = client.post(f"/api/v1/strategies/{strategy.pk}/pause/", {"reason": "try"}, format="json")

    assert response.status_code == 403 and "trader role" in response.json()["error"]["message"]
    refused = AuditEntry.objects.get(action="strategy.status_set")
    assert (refused.who, refused.via, refused.outcome) == (victor, "api", "refused")


def test_a_trader_pauses_a_strategy_and_halts_the_account_answered_with_the_objects(desk, sim):
    account, market, strategy = desk
    trader = client_with(token_for(person_make("tina", role="trader", accounts=[account]), "trade"))

    paused = trader.post(f"/api/v1/strategies/{strategy.pk}/pause/", {"reason": "vol"}, format="json")
    halted = trader.post(
        "/api/v1/kill-switches/set/", {"account": account.pk, "state": "halted", "reason": "news"}, format="json"
    )
    global_switch = trader.post("/api/v1/kill-switches/set/", {"account": None, "state": "halted"}, format="json")

    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert halted.status_code == 200 and (halted.json()["state"], halted.json()["reason"]) == ("halted", "news")
    assert global_switch.status_code == 403
    assert AuditEntry.objects.filter(via="api", outcome="done").count() == 2


def test_commands_on_another_accounts_objects_are_not_found(desk, sim):
    account, market, strategy = desk
    stranger = client_with(token_for(person_make("sam", role="trader"), "trade"))
    position = bought(strategy, market)

    answers = [
        stranger.post(f"/api/v1/positions/{position.pk}/close/", {}, format="json"),
        stranger.post(f"/api/v1/strategies/{strategy.pk}/stop/", {}, format="json"),
        stranger.post("/api/v1/kill-switches/set/", {"account": account.pk, "state": "halted"}, format="json"),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404]
    position.refresh_from_db()
    assert position.amount > 0


def test_a_trader_flattens_the_account_and_cancels_an_order_through_the_api(desk, sim, commit):
    account, market, strategy = desk
    trader = client_with(token_for(person_make("tina", role="trader", accounts=[account]), "trade"))
    position = bought(strategy, market)
    resting = Order.objects.create(
        account=account,
        market=market,
        client_order_id="api-limit-1",
        side="buy",
        type=Order.Type.LIMIT,
        price=D("50000"),
        amount=D("0.01"),
    )
    order_submit(order_id=resting.pk)

    canceled = trader.post(f"/api/v1/orders/{resting.pk}/cancel/", {"reason": "stale"}, format="json")
    flattened = commit(lambda: trader.post(f"/api/v1/accounts/{account.pk}/flatten/", {"reason": "eod"}, format="json"))

    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert flattened.status_code == 200, flattened.content
    assert len(flattened.json()["closing"]) == 1 and flattened.json()["failed"] == []
    position.refresh_from_db()
    assert position.amount < market.amount_precision
    assert set(AuditEntry.objects.filter(via="api").values_list("action", flat=True)) >= {
        "order.cancel",
        "account.flatten",
        "position.close",
    }
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)
