from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from apps.strategies.backtests.selectors import backtest_runs_visible_to


@login_required
def backtest_report(request, pk: int):
    """The stored report.html of one run, for its owner, its strategy's account members and
    administrators (it shows strategy params and results). Anyone else: 404, as for no run."""
    run = get_object_or_404(backtest_runs_visible_to(user=request.user), pk=pk)
    path = Path(run.report_path) if run.report_path else None
    if path is None or not path.is_file():
        raise Http404("This run has no report file (a sweep run, or the file was moved or deleted).")
    return FileResponse(path.open("rb"), content_type="text/html; charset=utf-8")
