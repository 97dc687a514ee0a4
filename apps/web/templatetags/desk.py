"""Numbers as a trader reads them, and the desk's state for the layout.

Prices on the market's tick, amounts on its step (apps.engine.display.decimal_text), money in
quote on cents. A gain or a loss carries its sign and an arrow as well as its colour, so it
reads the same to a colour-blind trader."""

from decimal import Decimal

from django import template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
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
    number = Decimal(str(value))
    text = decimal_text(abs(number), CENT) + suffix
    if number.quantize(CENT) == 0:
        return format_html('<span class="flat">{}</span>', text)
    if number > 0:
        return format_html('<span class="up" title="gain">▲ +{}</span>', text)
    return format_html('<span class="down" title="loss">▼ −{}</span>', text)


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
    return format_html_join(
        "",
        '<tr><td class="mono" data-label="{}">{}</td><td class="num mono" data-label="P&amp;L">{}</td>'
        '<td class="num mono" data-label="Return">{}</td><td class="num mono" data-label="Equity">{}</td></tr>',
        ((label, row.period, pnl(row.pnl), pnl_pct(row.return_pct), money(row.equity)) for row in reversed(rows)),
    )


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
    return format_html(
        '<td class="{}" data-day="{}" title="{}: {} ({}%)"><span class="dayno">{}</span><span class="mono daypnl">{}</span></td>',
        tone,
        cell["date"],
        cell["date"],
        money(cell["pnl"]),
        floatformat(cell["return_pct"], 2),
        cell["day"],
        cell["short"],
    )


# --- studies ---------------------------------------------------------------------------------


@register.filter
def params_text(params):
    """A trial's params as name=value, floats to at most 4 decimals: fast=12, stop_loss=2.5."""

    def shown(value):
        if isinstance(value, float):
            return f"{value:.4f}".rstrip("0").rstrip(".")
        return str(value)

    return ", ".join(f"{name}={shown(value)}" for name, value in (params or {}).items())
