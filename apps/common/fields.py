"""API keys and secrets encrypted at rest with Fernet.

Our own small field rather than a package: the maintained packages derive the key from
SECRET_KEY, which would make rotating SECRET_KEY lose every stored secret. Here the key is
FIELD_ENCRYPTION_KEY (several, comma separated, newest first -> MultiFernet rotation).
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be url-safe base64 of 32 bytes; create one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


class EncryptedTextField(models.TextField):
    """Stores Fernet tokens; Python code only ever sees the plain text."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return fernet().encrypt(value.encode()).decode()

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        try:
            return fernet().decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise ImproperlyConfigured(
                "A stored secret cannot be decrypted: FIELD_ENCRYPTION_KEY is not the key it was written with."
            ) from exc


def secrets_reencrypt() -> dict[str, int]:
    """Write every stored secret again with the newest FIELD_ENCRYPTION_KEY (reading takes any of
    the keys listed), so the older keys can then be removed. Returns rows rewritten per model."""
    from django.apps import apps
    from django.db import transaction

    rewritten = {}
    for model in apps.get_models():
        names = [field.name for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]
        if not names:
            continue
        with transaction.atomic():
            rows = list(model._base_manager.select_for_update().values_list("pk", *names))
            for pk, *secrets in rows:
                model._base_manager.filter(pk=pk).update(**dict(zip(names, secrets, strict=True)))
        rewritten[model._meta.label] = len(rows)
    return rewritten
