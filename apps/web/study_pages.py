"""/research/studies/: the Optuna studies a user may see with their progress, and one study's
live progress (its trials as they finish, the best trial's train and test figures side by side,
the best-so-far curve). Thin: reads are apps.research.selectors; the page moves with the
study's `study.*` events (desk.js re-renders the data-live regions on each one)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from apps.research.selectors import studies_overview, studies_topics_for, study_detail, study_topics
from apps.web.selectors import topics_authorize

CURVE_WIDTH, CURVE_HEIGHT = 600, 160


@login_required
def studies_page(request):
    rows = studies_overview(user=request.user)
    return render(request, "web/studies.html", {"rows": rows, "page_topics": studies_topics_for(user=request.user, rows=rows)})


@login_required
def study_page(request, study_id: int):
    detail = study_detail(user=request.user, study_id=study_id)
    if detail is None:
        raise Http404(f"No study #{study_id} among yours.")
    return render(
        request,
        "web/study.html",
        {
            "detail": detail,
            "row": detail.row,
            "study": detail.row.study,
            "curve": curve_drawn(detail.curve),
            "page_topics": topics_authorize(user=request.user, topics=study_topics(detail.row.study)).allowed,
        },
    )


def curve_drawn(curve: list[tuple[int, float]]) -> dict | None:
    """The best-so-far curve as an SVG polyline in a CURVE_WIDTH x CURVE_HEIGHT box (a step per
    new best), with its axis labels; None before the first complete trial."""
    if not curve:
        return None
    numbers, values = [n for n, _ in curve], [v for _, v in curve]
    first, last, low, high = numbers[0], max(numbers[-1], numbers[0] + 1), min(values), max(values)
    span = (high - low) or 1.0

    def x(number: int) -> float:
        return round((number - first) / (last - first) * CURVE_WIDTH, 1)

    def y(value: float) -> float:
        return round(CURVE_HEIGHT - 8 - (value - low) / span * (CURVE_HEIGHT - 16), 1)

    points, previous = [], None
    for number, value in curve:
        if previous is not None:
            points.append(f"{x(number)},{y(previous)}")  # flat until the next best
        points.append(f"{x(number)},{y(value)}")
        previous = value
    points.append(f"{CURVE_WIDTH},{y(previous)}")
    return {
        "points": " ".join(points),
        "width": CURVE_WIDTH,
        "height": CURVE_HEIGHT,
        "first": first,
        "last": numbers[-1],
        "low": low,
        "high": high,
        "best": values[-1],
    }
