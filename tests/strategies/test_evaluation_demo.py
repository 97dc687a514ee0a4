import pytest

from apps.markets.models import Market
from apps.desk.demo_strategies import demo_strategies_ensure
from apps.strategies.models import Strategy
from tests.trading.factories import account_make, fresh_market

pytestmark = pytest.mark.django_db


def test_the_demo_starts_an_ema_crossover_on_btc_and_an_rsi_on_eth_once():
    account = account_make(name="sim")
    fresh_market(symbol="BTC/USDT")
    fresh_market(symbol="ETH/USDT")

    first = demo_strategies_ensure(account)
    again = demo_strategies_ensure(account)

    assert [s.pk for s in first] == [s.pk for s in again]
    assert {(s.kind, s.markets.get().symbol, s.timeframe, s.status) for s in Strategy.objects.all()} == {
        ("ema_cross", "BTC/USDT", "1m", "running"), ("rsi", "ETH/USDT", "1m", "running")}
    assert Strategy.objects.get(kind="ema_cross").params == {"fast": 2, "slow": 5, "allow_short": False}  # brisk for a demo
    assert Market.objects.count() == 2
