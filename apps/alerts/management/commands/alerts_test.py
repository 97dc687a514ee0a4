"""`manage.py alerts_test`: one test message to every active channel, now, with each outcome."""

from apps.alerts.channels import channel_test
from apps.alerts.models import Channel
from apps.common.commands import ActorCommand


class Command(ActorCommand):
    help = "Send one test message to every active alert channel and print each outcome."

    def act(self, *, actor, reason, **options) -> str:
        lines = []
        for channel in Channel.objects.filter(active=True):
            result = channel_test(actor=actor, channel=channel, via=self.via)
            lines.append(f"{channel}: {result.outcome} — {result.response[:200]}")
        return "\n".join(lines) or "no active channel: add one in the admin or with alerts_channel_add"
