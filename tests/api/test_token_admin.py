"""An admin makes a token in the admin: the key is shown once, in the message; revoking is an action."""

import pytest
from django.contrib.auth.models import User

from apps.api.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_token_made_in_the_admin_shows_its_key_once_and_stores_its_hash(client):
    boss = User.objects.create_superuser("boss", password="x" * 12)
    client.force_login(boss)

    response = client.post("/admin/api/apitoken/add/", {"user": boss.pk, "name": "grafana", "scope": "read"}, follow=True)

    token = ApiToken.objects.get()
    [message] = [str(m) for m in response.context["messages"] if "shown this once" in str(m)]
    key = message.rsplit(" ", 1)[-1]
    assert key.startswith(f"td_{token.prefix}_") and key not in token.key_hash
    client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
