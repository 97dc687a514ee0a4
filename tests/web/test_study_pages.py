"""/research/studies/: each study the reader may see with its trials counted, and one study's
progress: its trials newest first with their train and test figures, its best trial train
beside test, the best-so-far curve; a finished trial is an event on the study's topic and the
page's live refresh shows it. Real Optuna storage in the desk's PostgreSQL."""

import html as html_text
import re

import pytest

from apps.common.models import Event
from apps.research.selectors import study_detail
from apps.research.studies import _optuna_study, study_create, study_runs
from apps.web.selectors import topics_authorize
from tests.research.study_support import ema_study_request
from tests.web.study_desk import (
    optuna_connections_closed,  # noqa: F401 (the fixture)
    strategy_study,
    study_desk_make,
    study_run_out,
    trials_run,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def desk():
    return study_desk_make()


def page(client, user, url: str) -> str:
    client.force_login(user)
    answer = client.get(url)
    assert answer.status_code == 200, answer.status_code
    return answer.content.decode()


def cell_text(html: str, row_id: str, label: str) -> str:
    row = re.search(rf'<tr id="{row_id}"[^>]*>(.*?)</tr>', html, re.S).group(1)
    cell = re.search(rf'data-label="{label}"[^>]*>(.*?)</td>', row, re.S).group(1)
    return re.sub(r"\s+", " ", html_text.unescape(re.sub(r"<[^>]+>", " ", cell))).strip()


def test_the_list_shows_each_study_with_its_trials_counted_its_best_value_and_its_state(client, desk):
    study = strategy_study(desk, trials=6)
    trials_run(study, 4)
    values = [t.values[0] for t in _optuna_study(study).get_trials() if t.values]

    html = page(client, desk.viewer, "/research/studies/")

    row = f"study-{study.pk}"
    assert cell_text(html, row, "Study") == f"#{study.pk}"
    assert cell_text(html, row, "Strategy").startswith("Trend BTC ema_cross · research")
    assert cell_text(html, row, "Market") == "BTC/USDT 1h"
    assert cell_text(html, row, "Objective").startswith("return_over_drawdown")
    assert cell_text(html, row, "Trials").startswith("4 / 6")
    assert (cell_text(html, row, "Running"), cell_text(html, row, "Failed")) == ("0", "0")
    assert cell_text(html, row, "Best") == f"{max(values):.4f}"
    assert cell_text(html, row, "State") == "running"
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", cell_text(html, row, "Started"))
    assert cell_text(html, row, "Finished") == "—"
    assert f'href="/research/studies/{study.pk}/"' in html


def test_the_study_page_shows_its_trials_newest_first_and_the_best_trial_train_beside_test(client, desk):
    study = strategy_study(desk, trials=6)
    study_run_out(study)
    best = study_runs(study).filter(is_best=True).get()

    html = page(client, desk.viewer, f"/research/studies/{study.pk}/")

    assert re.search(r'id="study-count">6 / 6 trials<', html) and 'id="study-state">finished<' in html
    numbers = [int(n) for n in re.findall(r'<tr id="trial-(\d+)"', html)]
    assert numbers == [5, 4, 3, 2, 1, 0]
    trial = best.settings["study"]["trial"]
    assert f'Best trial <a href="#trial-{trial}" class="mono">#{trial}</a>' in html
    side_by_side = dict(
        (label, (train, test))
        for label, train, test in re.findall(
            r'<tr><td>([^<]+)</td><td class="num mono">([^<]+)</td><td class="num mono">([^<]+)</td></tr>', html
        )
    )
    assert side_by_side["Total return %"] == (
        f"{best.metrics['total_return_pct']:.2f}",
        f"{best.test_metrics['total_return_pct']:.2f}",
    )
    assert side_by_side["Trades"] == (str(best.metrics["trades"]), str(best.test_metrics["trades"]))
    assert cell_text(html, f"trial-{trial}", "Test return") == f"{best.test_metrics['total_return_pct']:.2f}"
    assert cell_text(html, f"trial-{trial}", "Train trades") == str(best.metrics["trades"])
    assert f"fast={best.params['fast']}" in cell_text(html, f"trial-{trial}", "Params")
    assert "<polyline points=" in html


def test_the_best_so_far_curve_only_ever_improves(desk):
    study = strategy_study(desk, trials=8)
    study_run_out(study)

    curve = study_detail(user=desk.viewer, study_id=study.pk).curve

    values = [value for _, value in curve]
    assert values == sorted(values) and len(values) == len([n for n, _ in curve])
    assert values[-1] == max(t.values[0] for t in _optuna_study(study).get_trials() if t.values)


def test_a_stranger_gets_a_404_and_an_anonymous_reader_the_login_page(client, desk):
    study = strategy_study(desk, trials=2)

    client.force_login(desk.stranger)
    assert client.get(f"/research/studies/{study.pk}/").status_code == 404
    assert f"study-{study.pk}" not in client.get("/research/studies/").content.decode()
    client.logout()
    for url in ("/research/studies/", f"/research/studies/{study.pk}/"):
        answer = client.get(url)
        assert answer.status_code == 302 and answer.url.startswith("/accounts/login/?next=")


def test_a_study_of_an_engine_kind_alone_is_the_administrators_and_its_owners(client, desk):
    study = study_create(ema_study_request(trials=2), owner=desk.stranger)  # no configured strategy

    for user, seen in ((desk.admin, 200), (desk.stranger, 200), (desk.viewer, 404)):
        client.force_login(user)
        assert client.get(f"/research/studies/{study.pk}/").status_code == seen, user.username
    decision = topics_authorize(user=desk.viewer, topics=["studies.desk", f"studies.user.{desk.stranger.pk}"])
    assert decision.allowed == [] and "administrators'" in decision.refusals[0] and "another user's" in decision.refusals[1]
    assert topics_authorize(user=desk.admin, topics=["studies.desk"]).allowed == ["studies.desk"]


def test_a_finished_trial_is_an_event_on_the_studys_topic_and_the_live_refresh_shows_it(client, desk):
    study = strategy_study(desk, trials=5)
    trials_run(study, 1)
    html = page(client, desk.viewer, f"/research/studies/{study.pk}/")
    topic = f"studies.{desk.account.pk}"
    assert f'"{topic}"' in re.search(r'<script id="desk-live" type="application/json">(.*?)</script>', html).group(1)
    assert topics_authorize(user=desk.stranger, topics=[topic]).allowed == []
    assert 'id="study-count">1 / 5 trials<' in html

    trials_run(study, 1)

    event = Event.objects.filter(topic=topic).order_by("-id").first()
    assert event.kind == "study.trial_finished" and event.payload["study"] == study.pk and event.payload["trial"] == 1
    refreshed = client.get(f"/research/studies/{study.pk}/", headers={"X-Desk-Live": "1"}).content.decode()  # desk.js
    assert 'id="study-count">2 / 5 trials<' in refreshed and 'id="trial-1"' in refreshed


def test_a_multi_objective_study_shows_both_objectives_and_a_refused_combination_its_reason(client, desk):
    study = strategy_study(desk, trials=6, objective="multi", space=["fast=20:40", "slow=21:30"])
    study_run_out(study)
    trials = _optuna_study(study).get_trials()
    refused = next(t for t in trials if t.params["fast"] >= t.params["slow"])

    html = page(client, desk.viewer, f"/research/studies/{study.pk}/")

    assert "total_return_pct · max_drawdown_pct" in html
    state = cell_text(html, f"trial-{refused.number}", "State")
    assert state.startswith("pruned ") and refused.user_attrs["reason"][:40] in state
    assert cell_text(html, f"trial-{refused.number}", "Test return") == "—"
    front = _optuna_study(study).best_trials  # seeded: the space's valid combinations were drawn too
    assert front and f'<a href="#trial-{front[0].number}" class="mono">#{front[0].number}</a>' in html
    assert 'id="best-side-by-side"' in html
