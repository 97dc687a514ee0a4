"""The cockpit's pages and the actions a trader takes on them. Thin: reads are apps.web.cockpit,
writes are the services (with actor=request.user, via="page"), which check the role and the
account and audit every attempt, refused ones too. A viewer sees no buttons; a POST forged
anyway is refused by the service (403, or 404 for what is not on their accounts)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.alerts.actions import alert_acknowledge, alert_resolve, alert_snooze
from apps.common.errors import ApplicationError, Invalid, NotAllowed, NotFound
from apps.common.events import CANDLES
from apps.common.models import AuditEntry
from apps.exchanges.models import ExchangeAccount
from apps.exchanges.roles import Role, user_has_role
from apps.goals.services import drawdown_clear, goal_save
from apps.markets.selectors import market_scores_latest
from apps.markets.services import collector_active_set
from apps.research.promotion import strategy_promote
from apps.research.selectors import strategy_promotion_view
from apps.risk.services import kill_switch_set, risk_event_acknowledge
from apps.strategies.models import Strategy
from apps.strategies.services.lifecycle import strategy_status_set
from apps.trading.models import Order
from apps.trading.services.operator import account_flatten, order_cancel, position_close
from apps.web import cockpit, goals, parity, performance, selectors

PAGE = AuditEntry.Via.PAGE


# --- Pages -----------------------------------------------------------------------------------


@login_required
def desk(request):
    accounts = cockpit.accounts_equity(user=request.user)
    open_positions = cockpit.positions(user=request.user)
    return render(
        request,
        "web/desk.html",
        {
            "accounts": accounts,
            "totals": cockpit.equity_totals(accounts),
            "positions": open_positions[:20],
            "positions_totals": cockpit.positions_totals(open_positions),
            "orders": cockpit.orders(user=request.user, filters=cockpit.OrderFilters(), limit=10),
            "strategies": cockpit.strategies_running(user=request.user),
            "rows": selectors.markets_overview(),
            "page_topics": _candle_topics(open_positions),
        },
    )


@login_required
def markets(request):
    return render(request, "web/markets.html", {"rows": selectors.markets_overview()})


@login_required
def positions(request):
    closed = request.GET.get("tab") == "closed"
    found = cockpit.positions(user=request.user, closed=closed)
    return render(
        request,
        "web/positions.html",
        {
            "positions": found,
            "totals": cockpit.positions_totals(found),
            "closed": closed,
            "can_trade": cockpit.can_trade(request.user),
            "page_topics": [] if closed else _candle_topics(found),
            "accounts": cockpit.accounts_equity(user=request.user),
        },
    )


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(required=False)
    account = forms.IntegerField(required=False, min_value=1)
    market = forms.IntegerField(required=False, min_value=1)
    strategy = forms.IntegerField(required=False, min_value=1)
    day = forms.DateField(required=False, input_formats=["%Y-%m-%d"], error_messages={"invalid": "Use a date like 2025-01-31."})

    def __init__(self, *args, statuses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "any"), *statuses]


@login_required
def orders(request):
    choices = cockpit.order_filter_choices(user=request.user)
    form = OrderFilterForm(request.GET or None, statuses=choices["statuses"])
    valid = form.is_valid() if request.GET else True
    filters = (
        cockpit.OrderFilters(**{k: v for k, v in form.cleaned_data.items() if v not in (None, "")})
        if request.GET and valid
        else cockpit.OrderFilters()
    )
    context = {
        "form": form,
        "choices": choices,
        "counts": cockpit.order_status_counts(user=request.user),
        "orders": cockpit.orders(user=request.user, filters=filters) if valid else [],
        "can_trade": cockpit.can_trade(request.user),
        "filters": filters,
    }
    return render(request, "web/orders.html", context, status=200 if valid else 400)


@login_required
def signals(request):
    return render(request, "web/signals.html", {"signals": cockpit.signals(user=request.user)})


@login_required
def risk(request):
    return render(
        request,
        "web/risk.html",
        {
            "events": cockpit.risk_events(user=request.user),
            "alerts": cockpit.alerts(user=request.user),
            "switches": cockpit.kill_switches(user=request.user),
            "can_trade": cockpit.can_trade(request.user),
            "is_admin": request.user.is_superuser or _is_admin(request.user),
        },
    )


@login_required
def strategy(request, strategy_id: int):
    found = cockpit.strategy_for(user=request.user, strategy_id=strategy_id)
    if found is None:
        raise Http404(f"No strategy #{strategy_id} on your accounts.")
    return render(
        request,
        "web/strategy.html",
        {
            "strategy": found,
            "signals": cockpit.signals(user=request.user, strategy_id=found.pk, limit=50),
            "orders": cockpit.orders(user=request.user, filters=cockpit.OrderFilters(strategy=found.pk), limit=50),
            "evaluations": found.evaluations.select_related("market").order_by("-candle_time")[:50],
            "can_trade": cockpit.can_trade(request.user),
            "chart": cockpit.strategy_chart(strategy=found),
            "parity": parity.strategy_parity_cached(strategy=found),
            "promotion": strategy_promotion_view(found),
            "daily_reports": parity.daily_reports(strategy=found),
            "studies": found.studies.order_by("-created_at", "-id")[:5],
        },
    )


@login_required
def performance_page(request):
    query = performance.query_parse(request.GET)
    try:
        report = performance.performance_page_read(user=request.user, query=query)
    except NotFound as missing:
        raise Http404(missing.message) from None
    return render(
        request,
        "web/performance.html",
        {
            "report": report,
            "query": query,
            "windows": list(performance.WINDOWS),
            "groupings": ["day", "week", "month"],
            "accounts": cockpit.accounts_equity(user=request.user),
            "chart": performance.chart_series(report),
            "calendar": performance.daily_calendar(report),
            "months": performance.MONTHS,
            "monthly_table": performance.monthly_table(report),
        },
    )


@login_required
def goals_page(request):
    return render(
        request,
        "web/goals.html",
        {
            "cards": goals.goal_cards(user=request.user),
            "events": goals.goal_events(user=request.user),
            "pauses": goals.drawdown_pauses(user=request.user),
            "can_trade": cockpit.can_trade(request.user),
            "page_topics": goals.goal_topics(user=request.user),
        },
    )


@login_required
def data(request):
    health = cockpit.collectors_health()
    return render(
        request,
        "web/data.html",
        {
            "collectors": health,
            "scores": market_scores_latest(),
            "is_admin": _is_admin(request.user),
            # A stored candle moves its collector's freshness and counts: refresh on each.
            "page_topics": sorted({CANDLES.name(market=row.collector.market.slug, tf=row.collector.timeframe) for row in health}),
        },
    )


@login_required
def banners(request):
    """The desk-state banners alone: a page swaps them in at once on a risk event, before its
    (slower) full refresh."""
    return render(request, "web/_banners.html", {"desk": cockpit.desk_state(user=request.user)})


def _candle_topics(found) -> list[str]:
    """Unrealized P&L moves with the price: listen to the 1m candles of the positions' markets."""
    return sorted({CANDLES.name(market=position.market.slug, tf="1m") for position in found})


def _is_admin(user) -> bool:
    return user_has_role(user, Role.ADMIN)


def _int_or_none(text):
    return int(text) if text and text.isdigit() else None


# --- Actions ---------------------------------------------------------------------------------


def _reason(request) -> str:
    return request.POST.get("reason", "").strip()[:300]


@login_required
@require_POST
def position_close_action(request, position_id: int):
    return _act(
        request,
        lambda: position_close(
            actor=request.user, position_id=position_id, via=PAGE, reason=_reason(request) or "closed from the positions page"
        ).describe(),
    )


@login_required
@require_POST
def account_flatten_action(request, account_id: int):
    def run():
        done = account_flatten(
            actor=request.user, account_id=account_id, via=PAGE, reason=_reason(request) or "flattened from the positions page"
        )
        return f"Flatten {done.account.name}: {done.summary()}"

    return _act(request, run)


@login_required
@require_POST
def order_cancel_action(request, order_id: int):
    def run():
        order = order_cancel(
            actor=request.user, order_id=order_id, via=PAGE, reason=_reason(request) or "canceled from the orders page"
        )
        return f"Order {order.client_order_id}: {Order.objects.get(pk=order.pk).get_status_display().lower()}"

    return _act(request, run)


@login_required
@require_POST
def kill_switch_action(request, account_id: int | None = None):
    def run():
        account = None
        if account_id is not None:
            account = ExchangeAccount.objects.filter(pk=account_id).first()
            if account is None:
                raise NotFound(f"no account #{account_id} among your accounts")
        switch = kill_switch_set(
            actor=request.user, account=account, state=request.POST.get("state", ""), reason=_reason(request), via=PAGE
        )
        scope = f"account {account.name}" if account else "the whole desk"
        return f"Kill switch of {scope}: {switch.get_state_display()}"

    return _act(request, run)


@login_required
@require_POST
def goal_catch_up_action(request, goal_id: int):
    def run():
        enable = request.POST.get("enable") == "1"
        goal = goal_save(actor=request.user, goal_id=goal_id, values={"catch_up_enabled": enable}, via=PAGE)
        return f"{goal}: catch-up {'on: it may raise entries up to x1.3 within the hard limits' if enable else 'off'}"

    return _act(request, run)


@login_required
@require_POST
def goal_drawdown_clear_action(request, account_id: int):
    def run():
        cleared = drawdown_clear(actor=request.user, account_id=account_id, reason=_reason(request), via=PAGE)
        return f"Entries resume: {cleared} goal drawdown breach{'es' if cleared != 1 else ''} cleared for this month"

    return _act(request, run)


@login_required
@require_POST
def risk_acknowledge_action(request, risk_event_id: int):
    return _act(
        request,
        lambda: (
            f"Risk event #{risk_event_acknowledge(actor=request.user, risk_event_id=risk_event_id, via=PAGE).pk} acknowledged"
        ),
    )


@login_required
@require_POST
def alert_action(request, alert_id: int, verb: str):
    """Acknowledge, resolve or snooze (POST minutes) an alert."""

    def run():
        common = {"actor": request.user, "alert_id": alert_id, "via": PAGE, "reason": _reason(request)}
        if verb == "acknowledge":
            return f"Alert #{alert_acknowledge(**common).pk} acknowledged"
        if verb == "resolve":
            return f"Alert #{alert_resolve(**common).pk} resolved"
        if verb == "snooze":
            alert = alert_snooze(**common, minutes=request.POST.get("minutes", ""))
            return f"Alert #{alert.pk} snoozed until {alert.snoozed_until:%Y-%m-%d %H:%M} UTC"
        raise NotFound(f"no such action on an alert: {verb}")

    return _act(request, run)


@login_required
@require_POST
def strategy_status_action(request, strategy_id: int):
    def run():
        found = Strategy.objects.filter(pk=strategy_id).first()
        if found is None:
            raise NotFound(f"no strategy #{strategy_id} on your accounts")
        changed = strategy_status_set(
            actor=request.user,
            strategy=found,
            status=request.POST.get("status", ""),
            reason=_reason(request) or "from the strategy page",
            via=PAGE,
        )
        return f"Strategy {changed.name}: {changed.get_status_display().lower()}"

    return _act(request, run)


@login_required
@require_POST
def strategy_promote_action(request, strategy_id: int):
    """A trader's approval: promote to the next stage, through the rules."""

    def run():
        reason = _reason(request) or "approved on the strategy page"
        return strategy_promote(actor=request.user, strategy_id=strategy_id, via=PAGE, reason=reason).describe()

    return _act(request, run)


@login_required
@require_POST
def collector_active_action(request, collector_id: int):
    def run():
        active = request.POST.get("active") == "on"
        collector = collector_active_set(actor=request.user, collector_id=collector_id, active=active, via=PAGE)
        return f"Collector {collector}: {'enabled' if collector.active else 'disabled'}"

    return _act(request, run)


def _act(request, run):
    """Run one service call; turn its refusal into the answer this surface gives."""
    try:
        message = run()
    except NotAllowed as error:
        return _answer(request, error.message, 403)
    except NotFound as error:
        return _answer(request, error.message, 404)
    except Invalid as error:
        return _answer(request, error.message, 400)
    except ApplicationError as error:
        return _answer(request, error.message, 409)
    return _answer(request, message, 200)


def _answer(request, message: str, status: int):
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"ok": status == 200, "message": message}, status=status)
    if status in (403, 404):
        return render(request, f"{status}.html", {"message": message, "request_path": request.path}, status=status)
    (messages.success if status == 200 else messages.error)(request, message)
    back = request.POST.get("next") or request.headers.get("Referer", "")
    return redirect(back if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) else "dashboard")
