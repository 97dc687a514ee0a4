"""Personal API tokens and the answers of idempotent commands."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from apps.exchanges.roles import Role


class ApiToken(models.Model):
    """A person's key for scripts. Only a prefix (to find the row) and the sha256 of the whole
    key are stored; the key itself is shown once, when it is made. A token acts as its user and
    never with more rights: its scope caps the user's role (read < trade < admin)."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        TRADE = "trade", "Trade (commands)"
        ADMIN = "admin", "Admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What it is for, e.g. grafana or the phone bot")
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False, help_text="sha256 of the key (never the key)")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Blank: never expires")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.user}, {self.scope}, td_{self.prefix}…)"

    @property
    def scope_role(self) -> Role:
        return {self.Scope.READ: Role.VIEWER, self.Scope.TRADE: Role.TRADER, self.Scope.ADMIN: Role.ADMIN}[self.scope]

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class IdempotentAnswer(models.Model):
    """The first answer to a command sent with an Idempotency-Key, per user, kept 24 h: a retry
    with the same key gets it back and nothing is done again. `status` None: still running."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the method, path and body")
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]

    def __str__(self):
        return f"{self.key} of {self.user_id} ({self.status or 'running'})"


class OrdersVersion(models.Model):
    """Which state an account's orders are in, for the API's cached order pages
    (apps/api/page_cache.py): a new number (from one sequence, never reused) each time a
    transaction that wrote an order, an order's event or fill, or a signal of the account commits.
    PostgreSQL triggers write it (migration 0002), so every writer counts: a queryset's update(),
    bulk_create, a delete, raw SQL, a Celery worker. Account 0: the whole desk (a market renamed,
    a table truncated). No row yet: 0. On SQLite no trigger writes it and pages are not cached."""

    account_id = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField()

    class Meta:
        db_table = "api_orders_version"
        verbose_name = "orders version"

    def __str__(self):
        return f"orders of account {self.account_id or 'desk'} at version {self.version}"
