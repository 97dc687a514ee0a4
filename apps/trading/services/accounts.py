"""Account-level writes: balances from the exchange (the exchange is the truth), ticker prices,
portfolio snapshots."""

from django.db import transaction
from django.utils import timezone

from apps.common.events import event_record
from apps.exchanges.errors import ExchangeCallError
from apps.exchanges.models import ExchangeAccount
from apps.trading import selectors
from apps.trading.models import Balance, PortfolioSnapshot, Position
from apps.trading.services.protection import price_record
from apps.trading.venue_health import venue_failure_record, venue_success_record
from apps.trading.venues import venue_for


def balances_sync(*, account_id: int) -> bool:
    account = ExchangeAccount.objects.select_related("exchange").get(pk=account_id)
    try:
        balances = venue_for(account).balances_fetch()
    except ExchangeCallError as error:
        venue_failure_record(account_id=account.pk, error=error)
        return False
    venue_success_record(account_id=account.pk)
    if balances is None:
        return True
    with transaction.atomic():
        for asset, (free, used) in balances.items():
            Balance.objects.update_or_create(account=account, asset=asset, defaults={"free": free, "used": used})
    return True


def account_markets(account: ExchangeAccount) -> list:
    from apps.markets.models import Market
    from apps.strategies.models import Strategy

    traded = Market.objects.filter(strategies__account=account, strategies__status=Strategy.Status.RUNNING)
    held = Market.objects.filter(positions__account=account, positions__amount__gt=0)
    return list((traded | held).distinct())


def prices_poll(*, account_id: int) -> list[int]:
    """Ticker prices for the markets an account trades; returns the market ids updated."""
    account = ExchangeAccount.objects.select_related("exchange").get(pk=account_id)
    venue = venue_for(account)
    updated = []
    for market in account_markets(account):
        try:
            price = venue.last_price(market.symbol)
        except ExchangeCallError as error:
            venue_failure_record(account_id=account.pk, error=error)
            continue
        venue_success_record(account_id=account.pk)
        if price is not None:
            price_record(market_id=market.pk, price=price)
            updated.append(market.pk)
    return updated


def portfolio_snapshot_take(*, account_id: int) -> PortfolioSnapshot:
    account = ExchangeAccount.objects.get(pk=account_id)
    quote = "USDT"
    positions = Position.objects.filter(account=account)
    cash = selectors.account_cash(account=account, quote=quote)
    value = selectors.positions_value(account=account)
    with transaction.atomic():
        snapshot = PortfolioSnapshot.objects.create(
            account=account,
            taken_at=timezone.now(),
            equity=cash + value,
            cash=cash,
            positions_value=value,
            realized_pnl=sum((p.realized_pnl for p in positions), 0),
            unrealized_pnl=sum((p.unrealized_pnl for p in positions), 0),
        )
        event_record(
            "portfolio.snapshot_taken",
            {"account": account.pk, "equity": str(snapshot.equity), "cash": str(cash)},
            account=account.pk,
        )
    return snapshot
