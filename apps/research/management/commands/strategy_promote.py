from apps.common.commands import ActorCommand
from apps.research.promotion import strategy_promote


class Command(ActorCommand):
    help = (
        "Promote a strategy (by its id) to its next stage, candidate -> paper -> live: your approval, through the "
        "account's promotion rules (a refusal names every failed rule). Use --as USER: only the system's "
        "automatic promotion, where an admin enabled it, goes live without a person."
    )
    default_reason = "approved from the command line"

    def add_arguments(self, parser):
        parser.add_argument("strategy_id", type=int)
        super().add_arguments(parser)

    def act(self, *, actor, reason, strategy_id, **options) -> str:
        done = strategy_promote(actor=actor, via=self.via, strategy_id=strategy_id, reason=reason)
        checked = "".join(f"\n  {'ok  ' if r.passed else 'FAIL'} {r.rule}: {r.detail}" for r in done.results)
        return done.describe() + checked
