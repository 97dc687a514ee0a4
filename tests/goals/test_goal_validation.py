"""A goal is checked by one validation (admin form, API): every bad field at once."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from apps.common.errors import Invalid
from apps.common.models import AuditEntry
from apps.goals.models import Goal
from apps.goals.validation import goal_validate

NOW = datetime(2025, 6, 20, tzinfo=UTC)


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(Invalid) as refused:
        goal_validate({"kind": "get_rich", "target": None, "deadline": None})

    assert set(refused.value.fields) == {"kind", "target"}


def test_a_monthly_return_target_is_a_fraction_and_a_monthly_goal_has_no_deadline():
    with pytest.raises(Invalid) as refused:
        goal_validate({"kind": "monthly_return", "target": "-0.1", "deadline": NOW + timedelta(days=30)}, now=NOW)

    assert "0.10 for 10 %" in refused.value.fields["target"][0]
    assert "Only a portfolio value goal has a deadline" in refused.value.fields["deadline"][0]


def test_a_portfolio_deadline_must_lie_ahead():
    with pytest.raises(Invalid, match="must lie ahead"):
        goal_validate({"kind": "portfolio_value", "target": "1000000", "deadline": NOW - timedelta(days=1)}, now=NOW)
    assert goal_validate({"kind": "portfolio_value", "target": "1000000", "deadline": NOW + timedelta(days=1)}, now=NOW) == D(
        1000000
    )


@pytest.mark.django_db
def test_the_admin_refuses_a_bad_goal_in_the_validations_words_and_audits_a_good_one(admin_client):
    bad = admin_client.post(
        "/admin/goals/goal/add/", {"kind": "monthly_income", "target": "0", "deadline_0": "2099-01-01", "deadline_1": "00:00"}
    )

    assert bad.status_code == 200 and not Goal.objects.filter(kind="monthly_income", target=0).exists()
    page = bad.content.decode()
    assert "Monthly income target must be above 0" in page and "Only a portfolio value goal has a deadline" in page

    admin_client.post("/admin/goals/goal/add/", {"kind": "monthly_income", "target": "2500", "active": "on"})

    goal = Goal.objects.get(target=D(2500))
    assert goal.active and AuditEntry.objects.filter(action="admin.add", object_id=str(goal.pk)).exists()


@pytest.mark.django_db
def test_snapshots_and_adjustments_are_read_only_in_the_admin(admin_client):
    assert admin_client.get("/admin/goals/goalsnapshot/add/").status_code == 403
    assert admin_client.get("/admin/goals/goaladjustment/add/").status_code == 403
    assert admin_client.get("/admin/goals/goalsnapshot/").status_code == 200
    assert admin_client.get("/admin/goals/goaladjustment/").status_code == 200


@pytest.mark.django_db
def test_the_sizing_stance_in_force_is_shown_read_only_in_the_admin(admin_client):
    assert admin_client.get("/admin/risk/sizingstance/").status_code == 200
    assert admin_client.get("/admin/risk/sizingstance/add/").status_code == 403
