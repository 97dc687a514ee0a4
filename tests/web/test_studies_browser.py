"""/research/studies/ in Debian's Chromium against a real ASGI server (relay in process): a member
of the strategy's account watches a study; each trial a research worker finishes moves the
progress bar, adds its row and its point on the best-so-far curve without a reload.
Screenshots at 1280 and 390 px land in /tmp/shots/studies/."""

from pathlib import Path

import pytest
from django.db import connection

from apps.research.studies import study_trial_step
from tests.web.study_desk import (
    optuna_connections_closed,  # noqa: F401 (the fixture)
    strategy_study,
    study_desk_make,
)
from tests.web.test_cockpit_browser import log_in, watched
from tests.web.test_market_page_browser import in_a_thread, server  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots/studies")
WAIT_MS = 20000


def a_study_with_two_trials():
    try:
        desk = study_desk_make()
        study = strategy_study(desk, trials=6)
        for _ in range(2):
            study_trial_step(study.pk)
        return desk, study
    finally:
        connection.close()


def a_worker_finishes_a_trial(study_id: int) -> str:
    try:
        return study_trial_step(study_id)
    finally:
        connection.close()


def test_a_studys_page_follows_its_trials_live(server, chromium):  # noqa: F811 - `server` is the fixture of that name, imported above
    desk, study = in_a_thread(a_study_with_two_trials)
    errors: list = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = watched(chromium.new_page(viewport={"width": 1280, "height": 900}), errors)
    log_in(page, server.url, desk.viewer)

    page.click("nav >> text=Studies")
    page.wait_for_selector(f"#study-{study.pk}")
    assert "2 / 6" in page.inner_text(f"#study-{study.pk}")
    page.click(f"#study-{study.pk} a")
    page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
    assert page.inner_text("#study-count") == "2 / 6 trials"
    assert page.locator("#trials tbody tr").count() == 2

    in_a_thread(a_worker_finishes_a_trial, study.pk)

    page.wait_for_function("() => document.getElementById('study-count').innerText === '3 / 6 trials'", timeout=WAIT_MS)
    assert page.locator("#study-bar").get_attribute("value") == "3"
    assert page.locator("#trials tbody tr").first.get_attribute("id") == "trial-2"  # the newest on top
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # never reloaded
    while in_a_thread(a_worker_finishes_a_trial, study.pk) != "done":
        pass
    page.wait_for_function("() => document.getElementById('study-state').innerText === 'finished'", timeout=WAIT_MS)
    assert page.inner_text("#study-count") == "6 / 6 trials" and page.locator("#study-curve polyline").count() == 1

    pages = {"studies": "/research/studies/", "study": f"/research/studies/{study.pk}/"}
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in pages.items():
            page.goto(f"{server.url}{url}")
            page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
            page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} at {width} px is {overflow} px wider than the screen"
    assert errors == []
