"""Pages by membership: a user's own accounts on the dashboard, market data for every user.

Market data (candles, prices, collectors) is shared: it is the exchange's public data, stored
once per market whatever the account, so every logged-in user reads it. What belongs to an
account (equity, kill switch, strategies) is shown to its members only."""

import pytest

from tests.access import desk_make, desk_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk():
    return desk_make()


def test_the_dashboard_shows_a_member_its_accounts_and_not_another_accounts(client, desk):
    client.force_login(desk_user("viewer", role="viewer", accounts=[desk.ours.account], staff=False))

    content = client.get("/").content.decode()

    assert "ours" in content and "12345.67" in content
    assert "theirs" not in content and "98765.43" not in content


def test_a_user_of_no_account_is_told_how_to_get_one_and_sees_no_account(client, desk):
    client.force_login(desk_user("newcomer", role="viewer", staff=False))

    content = client.get("/").content.decode()

    assert "You are not a member of any account yet" in content
    assert "12345.67" not in content and "98765.43" not in content


def test_a_superuser_sees_every_account_on_the_dashboard(client, desk, admin_user):
    client.force_login(admin_user)

    content = client.get("/").content.decode()

    assert "12345.67" in content and "98765.43" in content


def test_market_data_is_shared_a_user_of_no_account_reads_the_candles_and_the_market_page(client, seeded_market):
    client.force_login(desk_user("newcomer", role=None, staff=False))

    candles = client.get(f"/api/markets/{seeded_market.pk}/candles?tf=1m&limit=5")
    page = client.get(f"/markets/{seeded_market.pk}/")

    assert candles.status_code == 200 and len(candles.json()["candles"]) == 5
    assert page.status_code == 200
