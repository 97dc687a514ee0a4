"""The demo seed makes, besides the admin, a viewer and a trader of the sim account whose
generated passwords are kept private in var/ and shown once, at the start that generates them."""

import stat

import pytest

from apps.desk.demo import DemoLogin, demo_member_ensure
from apps.desk.management.commands.rundesk import _login_line
from apps.exchanges.roles import Role, user_role
from apps.exchanges.selectors import accounts_visible_to
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_the_demo_trader_is_a_staff_member_of_the_sim_account_with_a_private_password(var_dir, django_user_model):
    account = account_make(name="sim")

    login = demo_member_ensure(username="trader", role=Role.TRADER, account=account)

    user = django_user_model.objects.get(username="trader")
    secret = var_dir / "trader-password.txt"
    assert user.is_staff and not user.is_superuser and user_role(user) == Role.TRADER
    assert list(accounts_visible_to(user=user)) == [account]
    assert login == DemoLogin("trader", secret.read_text(), "trader") and user.check_password(login.password)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_seeding_again_keeps_the_password_and_never_prints_it_again(var_dir, django_user_model):
    account = account_make(name="sim")
    first = demo_member_ensure(username="viewer", role=Role.VIEWER, account=account)

    again = demo_member_ensure(username="viewer", role=Role.VIEWER, account=account)

    user = django_user_model.objects.get(username="viewer")
    assert first.password and again.password is None and user.check_password(first.password)
    assert (var_dir / "viewer-password.txt").read_text() == first.password
    assert user.account_memberships.count() == 1 and user.groups.count() == 1


def test_the_start_banner_shows_each_login_with_its_role():
    assert _login_line(DemoLogin("admin", "pw0")) == "  login: admin / pw0\n"
    assert _login_line(DemoLogin("viewer", "pw1", "viewer")) == "  login: viewer / pw1  (viewer of the sim account)\n"
    assert "changepassword trader" in _login_line(DemoLogin("trader", None, "trader"))
