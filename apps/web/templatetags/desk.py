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


def float2(value) -> str:
    """floatformat:2 of a float or Decimal (half up, never "-0.00", en locale), without the
    template filter's general path; "" for None as the filter gives."""
    if value is None:
        return ""
    number = Decimal(str(value))
    if not number.is_finite():
        return floatformat(value, 2)
    try:
        rounded = number.quantize(CENT, ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the context holds: the filter's own way
        return floatformat(value, 2)
    text = format(rounded, "f")
    return text.lstrip("-") if rounded == 0 else text


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
