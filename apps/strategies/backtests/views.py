from pathlib import Path

from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from apps.strategies.models import BacktestRun


@staff_member_required
def backtest_report(request, pk: int):
    """The stored report.html of one run (staff only: it shows strategy params and results)."""
    run = get_object_or_404(BacktestRun, pk=pk)
    path = Path(run.report_path) if run.report_path else None
    if path is None or not path.is_file():
        raise Http404("This run has no report file (a sweep run, or the file was moved or deleted).")
    return FileResponse(path.open("rb"), content_type="text/html; charset=utf-8")
