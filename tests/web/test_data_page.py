"""The data page: every collector with its freshness (fresh under two periods, amber, red from
ten or when nothing is stored, off when disabled), its stored candles and gaps, its last error
and class; an admin enables and disables a collector (audited); anyone else is refused and
the refusal audited."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.common.models import AuditEntry
from apps.exchanges.roles import role_groups_ensure
from apps.markets.models import Candle, CollectorStatus
from tests.access import desk_user
from tests.trading.factories import fresh_market

pytestmark = pytest.mark.django_db


@pytest.fixture
def collectors():
    """Four 1m collectors: fresh (with a two-candle gap), late, stale with an error, disabled."""
    role_groups_ensure()
    now = timezone.now().replace(second=0, microsecond=0)
    found = {}
    for name, age_minutes, active in (("fresh", 1, True), ("late", 4, True), ("stale", 30, True), ("off", 1, False)):
        market = fresh_market(symbol=f"{name.upper()}/USDT", price=D("100"))
        newest = now - timedelta(minutes=age_minutes + 1)
        collector, _ = CollectorStatus.objects.update_or_create(
            market=market, timeframe="1m", defaults={"last_candle_time": newest, "active": active}
        )
        found[name] = collector
    fresh = found["fresh"]
    Candle.objects.filter(market=fresh.market).delete()
    for minutes_back in (0, 1, 4, 5):  # 2 and 3 are missing
        Candle.objects.create(
            market=fresh.market,
            timeframe="1m",
            open_time=fresh.last_candle_time - timedelta(minutes=minutes_back),
            **dict.fromkeys(("open", "high", "low", "close", "volume"), D("100")),
        )
    CollectorStatus.objects.filter(pk=found["stale"].pk).update(
        last_error="exchange answered 503: down for maintenance",
        last_error_class="ExchangeUnavailable",
        last_error_at=timezone.now(),
        consecutive_errors=4,
    )
    return found


def row(content: str, collector) -> str:
    start = content.index(f'id="collector-{collector.pk}"')
    return content[start : content.index("</tr>", start)]


def test_the_page_shows_each_collectors_freshness_candles_gaps_and_last_error(client, collectors):
    client.force_login(desk_user("vic", role="viewer"))

    content = client.get("/data/").content.decode()

    levels = {name: row(content, c).split('data-level="')[1].split('"')[0] for name, c in collectors.items()}
    assert levels == {"fresh": "fresh", "late": "amber", "stale": "red", "off": "off"}
    fresh = row(content, collectors["fresh"])
    assert '<td data-label="Candles" class="num mono">4</td>' in fresh
    assert "1 (2 missing)" in fresh
    stale = row(content, collectors["stale"])
    assert "ExchangeUnavailable" in stale and "down for maintenance" in stale and "4 in a row" in stale
    assert "/active" not in content  # a viewer has no buttons


def test_an_admin_disables_and_enables_a_collector_and_each_change_is_audited(client, collectors):
    admin = desk_user("ada", role="admin")
    client.force_login(admin)
    collector = collectors["fresh"]
    assert f"/data/collectors/{collector.pk}/active" in client.get("/data/").content.decode()

    off = client.post(f"/data/collectors/{collector.pk}/active", {}, HTTP_ACCEPT="application/json")
    collector.refresh_from_db()
    assert off.status_code == 200 and off.json()["message"] == "Collector FRESH/USDT 1m: disabled"
    assert collector.active is False
    on = client.post(f"/data/collectors/{collector.pk}/active", {"active": "on"}, HTTP_ACCEPT="application/json")
    collector.refresh_from_db()
    assert on.status_code == 200 and collector.active is True

    entries = AuditEntry.objects.filter(who=admin, action="collector.active_set").order_by("id")
    assert [(e.via, e.outcome, e.before, e.after) for e in entries] == [
        ("page", "done", {"active": True}, {"active": False}),
        ("page", "done", {"active": False}, {"active": True}),
    ]


def test_a_trader_may_not_disable_a_collector_and_the_refusal_is_audited(client, collectors):
    trader = desk_user("tom", role="trader")
    client.force_login(trader)
    collector = collectors["fresh"]

    forged = client.post(f"/data/collectors/{collector.pk}/active", {}, HTTP_ACCEPT="application/json")

    collector.refresh_from_db()
    assert forged.status_code == 403 and "needs the admin role" in forged.json()["message"]
    assert collector.active is True
    refused = AuditEntry.objects.get(who=trader, action="collector.active_set")
    assert refused.outcome == "refused" and refused.object_id == str(collector.pk)
