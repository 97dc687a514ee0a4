"""The demo desk that `make run` seeds, idempotently: every step checks before it creates."""

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from apps.desk.beat import beat_schedule_install
from apps.desk.demo_strategies import demo_strategies_ensure
from apps.exchanges.models import AccountMembership, ExchangeAccount
from apps.exchanges.roles import Role
from apps.markets.models import Candle, CollectorStatus, Exchange, Market
from apps.markets.services import candles_backfill, market_spec_fetch
from apps.markets.signals import candles_closed
from tradedesk.celery import DEFAULT_BEAT_SCHEDULE

DEMO_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
DEMO_TIMEFRAMES = ("1m", "15m")
DEMO_ACCOUNT = "sim"
DEMO_MEMBERS = (("viewer", Role.VIEWER), ("trader", Role.TRADER))  # staff users of the demo account


@dataclass
class DemoLogin:
    username: str
    password: str | None  # only at the start that generated it (or when given): never re-printed
    role: str = "admin"


def _password_file():
    return settings.VAR_DIR / "admin-password.txt"


def demo_admin_ensure(*, username: str, password: str | None) -> DemoLogin:
    """The demo superuser. A generated password is shown once, at the start that generates it,
    and kept in var/admin-password.txt (0600): later starts never print it again."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        password = password or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        _private_file_write(_password_file(), password)
    elif password and not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    if _password_file().exists():
        _password_file().chmod(0o600)  # a file written by an older desk may still be world-readable
    return DemoLogin(username, password)


def demo_member_ensure(*, username: str, role: Role, account: ExchangeAccount) -> DemoLogin:
    """A staff user (the admin needs is_staff) in the role's group and a member of the demo
    account. Its generated password is shown once, at the start that generates it, and kept in
    var/<username>-password.txt (0600), like the admin's."""
    User = get_user_model()
    secret_file = settings.VAR_DIR / f"{username}-password.txt"
    user = User.objects.filter(username=username).first()
    password = None
    if user is None:
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(username=username, password=password, is_staff=True)
        _private_file_write(secret_file, password)
    user.groups.add(Group.objects.get(name=role.group_name))
    AccountMembership.objects.get_or_create(account=account, user=user)
    return DemoLogin(username, password, role.group_name)


def _private_file_write(path, text: str) -> None:
    """Readable by the owner only from the first byte (no world-readable moment before a chmod)."""
    path.unlink(missing_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(text)


def demo_exchange_ensure(*, api_url: str) -> Exchange:
    exchange, _ = Exchange.objects.update_or_create(
        code="sim", defaults={"name": "Simulated exchange", "ccxt_id": "binance", "api_url": api_url}
    )
    return exchange


def demo_account_ensure(*, exchange: Exchange) -> ExchangeAccount:
    account = ExchangeAccount.objects.filter(name=DEMO_ACCOUNT).first()
    if account is None:
        account = ExchangeAccount.objects.create(
            name=DEMO_ACCOUNT,
            exchange=exchange,
            mode=ExchangeAccount.Mode.SIM,
            api_key=secrets.token_hex(16),
            api_secret=secrets.token_hex(32),
        )
    _register_with_simexchange(account)
    return account


def _register_with_simexchange(account: ExchangeAccount) -> None:
    """The simulated exchange learns the account's keys (idempotent on its side)."""
    response = requests.post(
        f"{account.api_url.rstrip('/')}/sim/accounts",
        json={"api_key": account.api_key, "secret": account.api_secret},
        timeout=5,
    )
    response.raise_for_status()


def demo_markets_ensure(*, exchange: Exchange) -> list[Market]:
    markets = []
    for symbol in DEMO_SYMBOLS:
        market = Market.objects.filter(exchange=exchange, symbol=symbol).first()
        if market is None:
            market = Market.objects.create(
                exchange=exchange, symbol=symbol, **market_spec_fetch(exchange=exchange, symbol=symbol)
            )
        for timeframe in DEMO_TIMEFRAMES:
            CollectorStatus.objects.get_or_create(market=market, timeframe=timeframe)
        markets.append(market)
    return markets


def demo_history_backfill(*, markets: list[Market], days: int, report=print) -> None:
    end = timezone.now()
    for market in markets:
        for timeframe in DEMO_TIMEFRAMES:
            result = candles_backfill(market=market, timeframe=timeframe, start=end - timedelta(days=days), end=end)
            report(f"  {market.symbol} {timeframe}: {result.inserted} new candles ({result.fetched} fetched)")


def demo_newest_candles_evaluate(*, markets: list[Market], timeframe: str = "1m") -> None:
    """Queue the running strategies' evaluation of each market's newest closed candle, as the
    collector does when it stores one, so a starting desk need not wait for the next close.
    The newest candle only (what the desk would have traded had it been running); one that is
    already evaluated is skipped, and one that is no longer the newest when a worker gets to it
    is refused as stale by the usual rule."""
    for market in markets:
        newest = Candle.objects.filter(market=market, timeframe=timeframe).order_by("-open_time").first()
        if newest is not None:
            candles_closed.send(sender=Candle, market_id=market.pk, timeframe=timeframe, open_times=[newest.open_time])


def demo_seed(*, username: str, password: str | None, report=print) -> list[DemoLogin]:
    """The demo desk; returns the logins to show, the admin's first."""
    logins = [demo_admin_ensure(username=username, password=password)]
    exchange = demo_exchange_ensure(api_url=settings.SIMEXCHANGE_URL)
    account = demo_account_ensure(exchange=exchange)
    logins += [demo_member_ensure(username=name, role=role, account=account) for name, role in DEMO_MEMBERS]
    markets = demo_markets_ensure(exchange=exchange)
    created = beat_schedule_install(DEFAULT_BEAT_SCHEDULE)
    report(f"beat schedule: {len(created)} periodic tasks installed")
    demo_history_backfill(markets=markets, days=settings.DEMO_BACKFILL_DAYS, report=report)
    for strategy in demo_strategies_ensure(account):
        report(f"strategy {strategy.name!r}: {strategy.kind} on {strategy.timeframe}, {strategy.get_status_display().lower()}")
    demo_newest_candles_evaluate(markets=markets)
    return logins
