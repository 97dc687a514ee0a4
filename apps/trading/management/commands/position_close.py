from apps.common.commands import ActorCommand
from apps.trading.services.operator import position_close


class Command(ActorCommand):
    help = "Close a position (by its id): a market sell of the tradable amount through the risk rules."
    default_reason = "closed from the command line"

    def add_arguments(self, parser):
        parser.add_argument("position_id", type=int)
        super().add_arguments(parser)

    def act(self, *, actor, reason, position_id, **options) -> str:
        return position_close(actor=actor, via=self.via, position_id=position_id, reason=reason).describe()
