"""Rotating FIELD_ENCRYPTION_KEY: the new key first, both listed; secrets_reencrypt; then the old key can go."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from apps.exchanges.models import ExchangeAccount
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_after_reencrypting_the_old_key_can_be_removed_and_every_secret_still_reads(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    account = account_make(name="rotated")
    ExchangeAccount.objects.filter(pk=account.pk).update(api_key="key-123", api_secret="secret-456")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]

    call_command("secrets_reencrypt")

    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    account = ExchangeAccount.objects.get(pk=account.pk)
    assert (account.api_key, account.api_secret) == ("key-123", "secret-456")


def test_without_reencrypting_removing_the_old_key_loses_the_secrets(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    account = account_make(name="not-rotated")
    ExchangeAccount.objects.filter(pk=account.pk).update(api_key="key-123", api_secret="secret-456")

    settings.FIELD_ENCRYPTION_KEYS = [NEW]

    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        ExchangeAccount.objects.get(pk=account.pk)
