"""/backtests/: the runs with their key metrics, the launch form (queued as a job on the
research workers, its progress pushed live), one run's report, two runs side by side. Thin:
reads are apps.web.backtests, the launch is the service (actor=request.user, via="page")."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.common.audit import Via
from apps.common.errors import Invalid, NotAllowed, NotFound
from apps.common.events import BACKTESTS
from apps.exchanges.roles import Role, user_has_role
from apps.strategies.backtests.jobs import backtest_job_submit
from apps.web import backtests


def _page(request, *, form: dict):
    return render(
        request,
        "web/backtests.html",
        {
            "runs": backtests.runs_visible(user=request.user),
            "jobs": backtests.jobs_recent(user=request.user),
            "form": form,
            "can_launch": user_has_role(request.user, Role.TRADER),
            "page_topics": [BACKTESTS.name(user=request.user.pk)],
        },
    )


@login_required
def backtests_page(request):
    return _page(request, form=backtests.launch_form(user=request.user))


@login_required
@require_http_methods(["GET", "POST"])
def backtest_launch_action(request):
    if request.method == "GET":
        # A refused launch answers the form with its errors at this address: the page's live
        # refresh (desk.js fetches location.href) and a reload come back here with a GET.
        return backtests_page(request)
    values = backtests.launch_values(request.POST)
    try:
        job = backtest_job_submit(actor=request.user, values=values, via=Via.PAGE)
    except Invalid as refused:
        form = backtests.launch_form(user=request.user, values=backtests.form_echo(request.POST), errors=refused.fields)
        return _page(request, form=form)  # the form again with its errors (200: a page, as Django forms answer)
    except (NotAllowed, NotFound) as refused:
        messages.error(request, refused.message)
        return redirect("backtests")
    messages.success(request, f"Backtest job #{job.pk} queued: its progress shows below.")
    return redirect(f"{reverse('backtests')}#job-{job.pk}")


@login_required
def backtest_page(request, run_id: int):
    run = backtests.run_for(user=request.user, run_id=run_id)
    if run is None:
        raise Http404(f"No backtest run #{run_id} among yours.")
    return render(
        request,
        "web/backtest.html",
        {"run": run, "chart": {"equity": backtests.equity_series(run)}, "trades": run.trades[:500]},
    )


@login_required
def backtest_compare_page(request):
    ids = sorted(int(value) for value in request.GET.getlist("run") if value.isdigit() and len(value) < 19)[:2]  # older first
    runs = [backtests.run_for(user=request.user, run_id=run_id) for run_id in ids]
    if len(ids) != 2 or None in runs:
        messages.error(request, "Choose two of your runs to compare (tick two boxes in the list).")
        return redirect("backtests")
    a, b = runs
    return render(
        request,
        "web/backtest_compare.html",
        {
            "a": a,
            "b": b,
            "rows": backtests.comparison(a, b),
            "chart": {"a": backtests.equity_series(a, as_return=True), "b": backtests.equity_series(b, as_return=True)},
        },
    )
