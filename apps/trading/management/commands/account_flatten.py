from django.core.management.base import CommandError

from apps.common.commands import ActorCommand
from apps.exchanges.models import ExchangeAccount
from apps.trading.services.operator import account_flatten


class Command(ActorCommand):
    help = "Flatten an account (by its name): cancel every open order, then close every position at market."
    default_reason = "flattened from the command line"

    def add_arguments(self, parser):
        parser.add_argument("account_name")
        super().add_arguments(parser)

    def act(self, *, actor, reason, account_name, **options) -> str:
        account_id = ExchangeAccount.objects.filter(name=account_name).values_list("pk", flat=True).first()
        if account_id is None:
            raise CommandError(f"no account named {account_name!r}")
        done = account_flatten(actor=actor, via=self.via, account_id=account_id, reason=reason)
        return f"account {account_name} flattened: {done.summary()}"
