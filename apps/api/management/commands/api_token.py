"""manage.py api_token create --user U --scope read|trade|admin [--name N] [--expires-days N]
manage.py api_token revoke ID
manage.py api_token list [--user U]"""

from django.core.management.base import BaseCommand, CommandError

from apps.api.models import ApiToken
from apps.api.tokens import api_token_create, api_token_revoke, user_by_name
from apps.common.audit import Via
from apps.common.errors import ApplicationError


class Command(BaseCommand):
    help = "Create (the key is printed once), revoke or list personal API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--user", required=True)
        create.add_argument("--scope", required=True, choices=ApiToken.Scope.values)
        create.add_argument("--name", default="cli")
        create.add_argument("--expires-days", type=int, default=None)
        revoke = sub.add_parser("revoke")
        revoke.add_argument("token_id", type=int)
        listing = sub.add_parser("list")
        listing.add_argument("--user", default=None)

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except ApplicationError as error:
            raise CommandError(error.message) from None

    def _create(self, *, user, scope, name, expires_days, **_):
        made = api_token_create(
            actor=None, user=user_by_name(user), name=name, scope=scope, expires_days=expires_days, via=Via.COMMAND
        )
        self.stderr.write(f"token #{made.token.pk} for {user}, scope {scope}; the key is shown this once:")
        self.stdout.write(made.key)

    def _revoke(self, *, token_id, **_):
        token = api_token_revoke(actor=None, token_id=token_id, via=Via.COMMAND)
        self.stdout.write(f"token #{token.pk} ({token.name}) revoked")

    def _list(self, *, user, **_):
        tokens = ApiToken.objects.select_related("user").order_by("pk")
        if user:
            tokens = tokens.filter(user__username=user)
        for token in tokens:
            state = "revoked" if token.revoked_at else ("expired" if not token.is_usable() else "usable")
            self.stdout.write(
                f"#{token.pk} {token.user} {token.name} {token.scope} td_{token.prefix}… {state} "
                f"last used {token.last_used_at or 'never'}"
            )
