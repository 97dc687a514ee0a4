"""Builders for the access tests: two accounts with something of everything, and desk users
(viewer, trader, admin, superuser) who are members of the first one only."""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.utils import timezone

from apps.exchanges.models import AccountMembership, ExchangeAccount
from apps.risk.models import KillSwitch, RiskEvent, RiskLimits
from apps.strategies.models import Strategy
from apps.trading.models import Order, PortfolioSnapshot, Position, Signal
from tests.trading.factories import account_make, fresh_market, strategy_make

PASSWORD = "correct-horse-battery"


@dataclass
class AccountData:
    account: ExchangeAccount
    strategy: Strategy
    order: Order
    position: Position
    kill_switch: KillSwitch
    limits: RiskLimits
    signal: Signal
    risk_event: RiskEvent


def account_data_make(*, name: str, market, equity: Decimal) -> AccountData:
    account = account_make(name=name)
    strategy = strategy_make(account=account, markets=[market], name=f"{name} ema", status=Strategy.Status.STOPPED)
    order = Order.objects.create(
        account=account,
        market=market,
        strategy=strategy,
        client_order_id=f"{name}-order-1",
        side="buy",
        amount=Decimal("0.5"),
        price=Decimal("100"),
    )
    position = Position.objects.create(
        account=account, market=market, strategy=strategy, amount=Decimal("0.5"), average_entry=Decimal("100")
    )
    kill_switch = KillSwitch.objects.create(account=account, state="active")
    limits = RiskLimits.objects.create(account=account)
    signal = Signal.objects.create(
        strategy=strategy,
        account=account,
        market=market,
        candle_time=timezone.now(),
        side="buy",
        intent="open",
        price=Decimal("100"),
        key=f"{name}-signal-1",
    )
    risk_event = RiskEvent.objects.create(
        account=account,
        strategy=strategy,
        signal=signal,
        decision=RiskEvent.Decision.REJECTED,
        reason=f"{name}: over the daily loss",
    )
    PortfolioSnapshot.objects.create(
        account=account, taken_at=timezone.now(), equity=equity, cash=equity, positions_value=0, realized_pnl=0, unrealized_pnl=0
    )
    return AccountData(account, strategy, order, position, kill_switch, limits, signal, risk_event)


@dataclass
class Desk:
    ours: AccountData
    theirs: AccountData
    global_switch: KillSwitch
    global_event: RiskEvent


def desk_make() -> Desk:
    """Account "ours" (the users' own) and "theirs" (nobody's here), plus the global kill switch."""
    market = fresh_market()
    ours = account_data_make(name="ours", market=market, equity=Decimal("12345.67"))
    theirs = account_data_make(name="theirs", market=market, equity=Decimal("98765.43"))
    global_event = RiskEvent.objects.create(decision=RiskEvent.Decision.ACTION, reason="every account halted by the desk")
    return Desk(ours, theirs, KillSwitch.objects.create(account=None, state="active"), global_event)


def desk_user(username: str, *, role: str | None, accounts=(), staff: bool = True) -> User:
    """A user in the role's group (None: no group), a member of `accounts`."""
    user = User.objects.create_user(username=username, password=PASSWORD, is_staff=staff)
    if role:
        user.groups.add(Group.objects.get(name=role))
    for account in accounts:
        AccountMembership.objects.create(account=account, user=user)
    return user
