from pathlib import Path

from csp.constants import NONE, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from apps.strategies.backtests.selectors import backtest_runs_visible_to

# The stored report is one self-contained file (inline chart library, script and styles, so it
# also opens offline). Served here it runs sandboxed, as an opaque origin that can load and send
# nothing: its inline code cannot reach the desk's cookies or pages.
REPORT_POLICY = {
    "default-src": [NONE],
    "script-src": [UNSAFE_INLINE],
    "style-src": [UNSAFE_INLINE],
    "img-src": ["data:"],
    "connect-src": [NONE],
    "form-action": [NONE],
    "base-uri": [NONE],
    "sandbox": ["allow-scripts"],
}


@login_required
@csp_replace(REPORT_POLICY)
def backtest_report(request, pk: int):
    """The stored report.html of one run, for its owner, its strategy's account members and
    administrators (it shows strategy params and results). Anyone else: 404, as for no run."""
    run = get_object_or_404(backtest_runs_visible_to(user=request.user), pk=pk)
    path = Path(run.report_path) if run.report_path else None
    if path is None or not path.is_file():
        raise Http404("This run has no report file (a sweep run, or the file was moved or deleted).")
    return FileResponse(path.open("rb"), content_type="text/html; charset=utf-8")
