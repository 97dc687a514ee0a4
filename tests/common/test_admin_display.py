from decimal import Decimal

import pytest

from apps.common.admin_display import decimal_trimmed
from tests.markets.factories import candle_rows, collector_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("0.024575400000"), "0.0245754"), (Decimal("4060.780000000000"), "4060.78"), (Decimal("100.000"), "100"),
     (Decimal("-0.099895188000"), "-0.099895188"), (Decimal("1E-8"), "0.00000001"), (Decimal("0"), "0")],
)
def test_decimals_are_shown_without_storage_zeros(value, shown):
    assert decimal_trimmed(value) == shown


def test_the_candle_list_shows_prices_as_a_trader_reads_them(admin_client):
    from apps.markets.services import candles_store

    candles_store(collector=collector_make(), rows=candle_rows(count=1))

    page = admin_client.get("/admin/markets/candle/").content.decode()

    assert "60000.1<" in page and "12.345678<" in page
    assert "60000.100000000000" not in page
