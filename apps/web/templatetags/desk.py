"""Numbers as a trader reads them, and the desk's state for the layout.

Prices on the market's tick, amounts on its step (apps.engine.display.decimal_text), money in
quote on cents. A gain or a loss carries its sign and an arrow as well as its colour, so it
reads the same to a colour-blind trader."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from apps.engine.display import decimal_text
from apps.web import cockpit

register = template.Library()
CENT = Decimal("0.01")


@register.simple_tag(takes_context=True)
def desk_state(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"banners": [], "risk_unacknowledged": 0, "alerts_unacknowledged": 0}
    return cockpit.desk_state(user=user)


@register.filter
def price(value, market):
    return decimal_text(value, market.price_precision) if value is not None else "—"


@register.filter
def qty(value, market):
    return decimal_text(value, market.amount_precision) if value is not None else "—"


@register.filter
def money(value):
    if value is None:
        return "—"
    text = decimal_text(value, CENT)
    return text.lstrip("-") if Decimal(text) == 0 else text  # never "-0.00"


@register.filter
def pnl(value, suffix=""):
    """+12.34 ▲ in the gain colour, −5.00 ▼ in the loss colour, 0.00 plain; `suffix` "%" for a percentage."""
    if value is None or value == "":
        return "—"
    return mark_safe(pnl_html(value, suffix))


def pnl_html(value, suffix="") -> str:
    """pnl's markup as a plain str, for the tables built in Python: digits, a point and the
    suffix need no escaping (format_html escaping each of them was most of a long table's time)."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    text = decimal_text(abs(number), CENT) + suffix
    if number.quantize(CENT) == 0:
        return f'<span class="flat">{text}</span>'
    if number > 0:
        return f'<span class="up" title="gain">▲ +{text}</span>'
    return f'<span class="down" title="loss">▼ −{text}</span>'


def float2(value, places: int = 2) -> str:
    """floatformat:2 (or :places) of a float or Decimal (half up, never "-0.00", en locale),
    without the template filter's general path; "" for None as the filter gives."""
    if value is None:
        return ""
    number = Decimal(str(value))
    if not number.is_finite():
        return floatformat(value, places)
    try:
        rounded = number.quantize(_PLACES[places], ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the context holds: the filter's own way
        return floatformat(value, places)
    text = format(rounded, "f")
    return text.lstrip("-") if rounded == 0 else text


_PLACES = {places: Decimal(1).scaleb(-places) for places in range(1, 9)}


@register.filter
def pnl_pct(value):
    return pnl(value, "%")


@register.filter
def state_class(state):
    return {"halted": "badge-bad", "reduce_only": "badge-warn", "active": "badge-ok"}.get(state, "")


@register.simple_tag(takes_context=True)
def desk_live_config(context):
    """What desk.js needs: the socket, and the topics of the user's accounts plus the page's own."""
    request = context["request"]
    extra = list(context.get("page_topics") or [])
    return {
        "wsPath": "/ws/events/",
        "loginUrl": reverse("login"),
        "bannersUrl": reverse("live-banners"),
        "user": request.user.get_username(),
        "topics": [*cockpit.live_topics(user=request.user), *extra],
    }


@register.filter
def get_item(mapping, key):
    return mapping.get(key)


# --- goals -----------------------------------------------------------------------------------


@register.filter
def pct0(value):
    """A share as a whole percentage: 0.456 -> 46 %."""
    return "—" if value is None else f"{value:.0%}"


@register.filter
def pct2(value):
    return "—" if value is None else f"{value:+.2%}"


@register.filter
def words(value):
    """on_track -> on track."""
    return str(value or "").replace("_", " ")


@register.filter
def bar_width(value):
    """A share as the width of a 100-wide bar, held inside it."""
    return f"{min(max(float(value or 0), 0.0), 1.0) * 100:.1f}"


@register.filter
def goal_amount(state, which: str):
    """The goal's current value, target or what remains, in its unit: a return in %, income and
    value in the quote currency."""
    goal = state.goal
    value = float(goal.target) if which == "target" else getattr(state, which)
    if goal.kind == "monthly_return":
        return f"{value:+.2%}" if which == "current" else f"{value:.2%}"
    return f"{decimal_text(Decimal(str(round(value, 2))), CENT)} USDT"


@register.filter
def age_text(value):
    """A timedelta as a trader says it: 40 s, 3 min, 2 h 5 min, 3 d 4 h."""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes} min"
    if days < 1:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


@register.filter
def normalize(value):
    """An exact Decimal without storage zeros (0.00998, not 0.009980000000)."""
    return "—" if value is None else f"{Decimal(value).normalize():f}"


# --- performance: the long tables, built here (a year of days through the template language
# was most of the page's time) ----------------------------------------------------------------


@register.simple_tag
def pnl_rows(rows, label):
    """The P&L table's rows, newest first."""
    label = escape(label)
    return mark_safe(
        "".join(
            f'<tr><td class="mono" data-label="{label}">{escape(row.period)}</td>'
            f'<td class="num mono" data-label="P&amp;L">{_pnl_or_dash(row.pnl)}</td>'
            f'<td class="num mono" data-label="Return">{_pnl_or_dash(row.return_pct, "%")}</td>'
            f'<td class="num mono" data-label="Equity">{money(row.equity)}</td></tr>'
            for row in reversed(rows)
        )
    )


def _pnl_or_dash(value, suffix="") -> str:
    return "—" if value is None or value == "" else pnl_html(value, suffix)


@register.simple_tag
def calendar_weeks(weeks):
    """A month of the daily P&L calendar (apps.web.performance.daily_calendar), a row a week."""
    return mark_safe("".join(f"<tr>{''.join(_calendar_cell(cell) for cell in week)}</tr>" for week in weeks))


def _calendar_cell(cell) -> str:
    if cell is None:
        return '<td class="out"></td>'
    if cell["pnl"] is None:
        return format_html('<td class="none"><span class="dayno">{}</span></td>', cell["day"])
    tone = "day-up" if cell["pnl"] > 0 else "day-down" if cell["pnl"] < 0 else "day-flat"
    day, short = cell["date"], escape(cell["short"])  # an ISO date and digits with a sign: nothing to escape
    return (
        f'<td class="{tone}" data-day="{day}" title="{day}: {money(cell["pnl"])} ({float2(cell["return_pct"])}%)">'
        f'<span class="dayno">{cell["day"]}</span><span class="mono daypnl">{short}</span></td>'
    )


# --- the cockpit's long tables, built here: a hundred rows of a dozen cells through the template
# language (a variable lookup, a filter and an escape per cell, a URL reversed per link) were
# most of the positions, orders and desk pages' time. The markup is the templates' own. ------


def _url_of(name: str):
    """pk -> the URL of route `name` (one integer argument), reversed once per table."""
    marker = "918273645"
    head, tail = reverse(name, args=[marker]).split(marker)
    return lambda pk: f"{head}{pk}{tail}"


def _csrf_input(context) -> str:
    """What {% csrf_token %} renders (one token for the page, as the tag does)."""
    token = context.get("csrf_token")
    if not token or token == "NOTPROVIDED":
        return ""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(token)}">'


def _minute(moment, here) -> str:
    """date:"Y-m-d H:i" in the current time zone (`here`), without the template filter's parser."""
    t = moment.astimezone(here)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"


def _second(moment, here) -> str:
    """date:"Y-m-d H:i:s"."""
    return f"{_minute(moment, here)}:{moment.astimezone(here).second:02d}"


def _clock_ms(moment, here) -> str:
    """date:"H:i:s.u"|slice:":12": the time to the millisecond."""
    t = moment.astimezone(here)
    return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}"[:12]


def _price(value, market) -> str:
    return decimal_text(value, market.price_precision) if value is not None else "—"


def _qty(value, market) -> str:
    return decimal_text(value, market.amount_precision) if value is not None else "—"


@register.simple_tag(takes_context=True)
def position_rows(context, positions, closed, can_trade):
    """The rows of the positions table (web/positions.html), open or closed."""
    from django.utils import timezone
    from django.utils.timesince import timesince

    market_url, strategy_url, close_url = _url_of("market"), _url_of("strategy"), _url_of("position-close")
    actions = can_trade and not closed
    csrf = _csrf_input(context) if actions else ""
    now, here = timezone.now(), timezone.get_current_timezone()
    html = []
    for p in positions:
        market = p.market
        account, symbol, amount = escape(p.account.name), escape(market.symbol), _qty(p.amount, market)
        html.append(
            f'<tr id="position-{p.pk}" data-position="{p.pk}">\n'
            f'      <td data-label="Account">{account}</td>\n'
            f'      <td data-label="Market" class="symbol"><a class="symbol" href="{market_url(market.pk)}?tf=1m">{symbol}</a></td>\n'
            f'      <td data-label="Side">{escape(p.side)}</td>\n'
            f'      <td data-label="Amount" class="num mono">{amount}</td>\n'
            f'      <td data-label="Avg entry" class="num mono">{_price(p.average_entry, market)}</td>\n'
        )
        if not closed:
            html.append(
                f'      <td data-label="Last" class="num mono">{_price(p.mark, market)}</td>\n'
                f'      <td data-label="Unrealized" class="num mono">{_pnl_or_dash(p.unrealized_now)}</td>\n'
                f'      <td data-label="Unrealized %" class="num mono">{_pnl_or_dash(p.unrealized_pct, "%")}</td>\n'
            )
        html.append(
            f'      <td data-label="Realized" class="num mono">{_pnl_or_dash(p.realized_pnl)}</td>\n'
            f'      <td data-label="Fees" class="num mono">{money(p.fees)}</td>\n'
        )
        if not closed:
            trail = f"{float2(p.trailing_stop_pct)}%" if p.trailing_stop_pct else "—"
            html.append(
                f'      <td data-label="Stop / target" class="mono small">{_price(p.stop_loss, market)} / '
                f"{_price(p.take_profit, market)} / {trail}</td>\n"
            )
        if p.origin == "external":
            strategy = (
                '<span class="badge badge-warn" title="Bought outside the desk: no strategy trades it until an admin '
                'adopts it">external</span>'
            )
        elif p.strategy:
            strategy = f'<a href="{strategy_url(p.strategy.pk)}">{escape(p.strategy.name)}</a>'
        else:
            strategy = '<span class="muted">by hand</span>'
        if p.closed_outside:
            strategy += f' <span class="badge badge-warn" title="{escape(p.closed_reason)}">external_close</span>'
        when = _minute(p.updated_at, here) if closed else timesince(p.created_at, now)
        html.append(
            f'      <td data-label="Strategy">{strategy}</td>\n'
            f'      <td data-label="{"Closed" if closed else "Age"}" class="muted mono small">{escape(when)}</td>\n'
        )
        if actions:
            html.append(
                '      <td class="actions">\n'
                f'        <form method="post" action="{close_url(p.pk)}" class="inline" data-confirm="Close {symbol} on '
                f'{account}? Sells {amount} {escape(market.base)} at market.">\n'
                f'          {csrf}<button class="button danger small-button" type="submit" aria-label="Close {symbol} on '
                f'{account}">Close</button>\n'
                "        </form>\n"
                "      </td>\n"
            )
        html.append("    </tr>\n")
    return mark_safe("".join(html))


@register.simple_tag(takes_context=True)
def order_rows(context, orders, can_trade):
    """The rows of the orders table (web/orders.html), each with its event log row."""
    from django.utils import timezone

    from apps.trading.models import Order

    strategy_url, cancel_url, here = _url_of("strategy"), _url_of("order-cancel"), timezone.get_current_timezone()
    statuses = {value: str(label) for value, label in Order._meta.get_field("status").flatchoices}
    csrf = _csrf_input(context) if can_trade else ""
    html = []
    for o in orders:
        market = o.market
        client_id, symbol, side, status = escape(o.client_order_id), escape(market.symbol), escape(o.side), escape(o.status)
        strategy = (
            f'<a href="{strategy_url(o.strategy.pk)}">{escape(o.strategy.name)}</a>'
            if o.strategy
            else '<span class="muted">by hand</span>'
        )
        slippage = money(o.slippage) if o.slippage is not None else "—"
        slippage_pct = f"{float2(o.slippage_pct, 3)}%" if o.slippage_pct is not None else "—"
        reason = f'<div class="small reason">{escape(o.reason)}</div>' if o.status in ("rejected", "unknown") else ""
        latency = f"{o.latency_ms} ms" if o.latency_ms is not None else "—"
        html.append(
            f'<tr id="order-{o.pk}" data-order="{client_id}">\n'
            f'      <td data-label="Time" class="mono muted small">{_second(o.created_at, here)}</td>\n'
            f'      <td data-label="Account">{escape(o.account.name)}</td>\n'
            f'      <td data-label="Market" class="symbol">{symbol}</td>\n'
            f'      <td data-label="Strategy">{strategy}</td>\n'
            f'      <td data-label="Side" class="side-{side}">{side}</td>\n'
            f'      <td data-label="Type">{escape(o.type)}</td>\n'
            f'      <td data-label="Amount" class="num mono">{_qty(o.filled, market)} / {_qty(o.amount, market)}</td>\n'
            f'      <td data-label="Requested" class="num mono">{_price(o.price, market)}</td>\n'
            f'      <td data-label="Fill price" class="num mono">{_price(o.average_price, market)}</td>\n'
            f'      <td data-label="Slippage" class="num mono">{slippage}</td>\n'
            f'      <td data-label="Slippage %" class="num mono">{slippage_pct}</td>\n'
            f'      <td data-label="Status"><span class="badge status-{status}">{escape(statuses.get(o.status, o.status))}</span>{reason}</td>\n'
            f'      <td data-label="Latency" class="num mono">{latency}</td>\n'
        )
        if can_trade:
            cancel = (
                f'\n        <form method="post" action="{cancel_url(o.pk)}" class="inline" data-confirm="Cancel order {client_id} '
                f'({side} {_qty(o.amount, market)} {symbol})?">{csrf}<button class="button danger small-button" '
                'type="submit">Cancel</button></form>\n      '
                if o.cancelable
                else ""
            )
            html.append(f'      <td class="actions">{cancel}</td>\n')
        events = "".join(
            f"<li>{_clock_ms(e.created_at, here)} {escape(e.from_status or '·')} → {escape(e.to_status)}: {escape(e.cause)}</li>"
            for e in o.event_log
        )
        html.append(
            "    </tr>\n"
            f'    <tr class="detail-row"><td colspan="14"><details><summary>Event log of {client_id}</summary>\n'
            f'      <ol class="event-log mono small">{events or "<li>no event</li>"}</ol>\n'
            "    </details></td></tr>\n"
        )
    return mark_safe("".join(html))


@register.simple_tag
def market_rows(rows):
    """The rows of the markets and collectors table (web/_markets.html)."""
    from django.utils import timezone

    market_url, here = _url_of("market"), timezone.get_current_timezone()
    html = []
    for row in rows:
        market = row["market"]
        url, last_time = market_url(market.pk), row["last_time"]
        pills = []
        for c in row["collectors"]:
            state, tone = (
                ("off", "pill-off") if not c["active"] else ("fresh", "pill-ok") if c["fresh"] else ("stale", "pill-warn")
            )
            if c["last_error"]:
                title = f"last error: {escape(c['last_error'])}"
            else:
                success = c["last_success_at"]
                title = f"last success {_second(success, here) if success else 'never'} UTC"
            pills.append(
                f'\n          <span class="pill {tone}"\n                title="{title}">\n'
                f"            {escape(c['timeframe'])} {state}</span>\n        "
            )
        collectors = "".join(pills) if pills else '\n        <span class="muted">not collected</span>'
        html.append(
            "<tr>\n"
            f'      <td data-label="Market"><a class="symbol" href="{url}?tf=1m">{escape(market.symbol)}</a></td>\n'
            f'      <td class="muted">{escape(market.exchange.name)}</td>\n'
            f'      <td class="num mono">{escape(row["last_close"] or "—")}</td>\n'
            f'      <td class="mono muted">{_minute(last_time, here) if last_time else "—"}</td>\n'
            f'      <td data-label="Exchange">{collectors}\n      </td>\n'
            f'      <td class="actions"><a href="{url}?tf=1m">1m</a> <a href="{url}?tf=15m">15m</a></td>\n'
            "    </tr>\n  "
        )
    return mark_safe("".join(html))


# --- studies ---------------------------------------------------------------------------------


@register.filter
def params_text(params):
    """A trial's params as name=value, floats to at most 4 decimals: fast=12, stop_loss=2.5."""

    def shown(value):
        if isinstance(value, float):
            return f"{value:.4f}".rstrip("0").rstrip(".")
        return str(value)

    return ", ".join(f"{name}={shown(value)}" for name, value in (params or {}).items())
