"""The shape of a command a person runs to change something: `--as USER` names the actor (the
audit trail records them, the service checks their role and accounts); without it the system
acts (whoever runs manage.py holds the database already). A refusal (ApplicationError) becomes
a CommandError in the service's words: one line, no traceback."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.common.audit import Via
from apps.common.errors import ApplicationError


class ActorCommand(BaseCommand):
    via = Via.COMMAND
    default_reason = "from the command line"

    def add_arguments(self, parser):
        parser.add_argument(
            "--as",
            dest="as_user",
            metavar="USER",
            default="",
            help="The user acting (their role and accounts apply; audited). Default: the system.",
        )
        parser.add_argument("--reason", default="", help="Why (kept in the audit trail).")

    def handle(self, *args, **options):
        actor = self.actor(options.pop("as_user"))
        reason = options.pop("reason") or f"{self.default_reason}{f' by {actor.get_username()}' if actor else ''}"
        try:
            line = self.act(actor=actor, reason=reason, **options)
        except ApplicationError as error:
            raise CommandError(f"refused: {error.message}") from error
        self.stdout.write(line)

    def act(self, *, actor, reason: str, **options) -> str:
        """Call one service; return the line to print."""
        raise NotImplementedError

    @staticmethod
    def actor(name: str):
        if not name:
            return None
        user_model = get_user_model()
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: name}).first()
        if user is None or not user.is_active:
            raise CommandError(f"no active user {name!r}: --as takes the username of an existing, active user")
        return user
