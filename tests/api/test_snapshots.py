"""The equity curve through the API: `every` keeps each account's last snapshot per bucket."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.trading.models import PortfolioSnapshot

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def snapshots_every_10_minutes(account, hours: int) -> None:
    PortfolioSnapshot.objects.filter(account=account).delete()
    PortfolioSnapshot.objects.bulk_create(
        PortfolioSnapshot(
            account=account,
            taken_at=NOON + timedelta(minutes=10 * i),
            equity=Decimal(1000 + i),
            cash=Decimal(1000),
            positions_value=Decimal(i),
            realized_pnl=0,
            unrealized_pnl=0,
        )
        for i in range(6 * hours)
    )


def curve(client, **params) -> list[tuple[str, str]]:
    response = client.get("/api/v1/portfolio-snapshots/", {"ordering": "taken_at", **params})
    assert response.status_code == 200, response.content
    return [(row["taken_at"], row["equity"]) for row in response.json()["results"]]


def test_every_hour_gives_the_last_snapshot_of_each_hour(desk, viewer):
    snapshots_every_10_minutes(desk.ours.account, hours=3)

    points = curve(viewer, account=desk.ours.account.pk, every="1h")

    assert points == [
        ("2026-03-02T12:50:00Z", "1005.000000000000"),
        ("2026-03-02T13:50:00Z", "1011.000000000000"),
        ("2026-03-02T14:50:00Z", "1017.000000000000"),
    ]


def test_every_works_inside_the_time_range_and_never_shows_another_account(desk, viewer):
    snapshots_every_10_minutes(desk.ours.account, hours=3)
    snapshots_every_10_minutes(desk.theirs.account, hours=3)

    points = curve(viewer, every="1h", start="2026-03-02T13:00:00Z", end="2026-03-02T13:30:00Z")

    assert points == [("2026-03-02T13:20:00Z", "1008.000000000000")]


@pytest.mark.parametrize("every", ["1x", "0h", "30s", "53w", "99999999999999999999999d", "h"])
def test_an_unreadable_or_out_of_range_every_is_named_in_the_error(desk, viewer, every):
    response = viewer.get("/api/v1/portfolio-snapshots/", {"every": every})

    assert response.status_code == 400
    assert "between 1m and 52w" in response.json()["error"]["fields"]["every"][0]
