"""`manage.py alerts_channel_add --kind webhook --url https://… [--min-priority low]`: a channel
from a script, checked as the admin's form checks it (every missing setting at once), audited."""

from datetime import time

from django.core.management.base import CommandError

from apps.alerts.channels import channel_add
from apps.alerts.models import Channel, Priority
from apps.common.commands import ActorCommand
from apps.exchanges.models import ExchangeAccount

PRIORITIES = {label: value for value, label in Priority.choices}


class Command(ActorCommand):
    help = "Add an alert channel (Telegram, Discord, Slack, email or a generic webhook)."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=Channel.Kind.values)
        parser.add_argument("--name", default="", help="Default: the kind")
        parser.add_argument("--url", default="", help="Webhook URL; Telegram: the Bot API base URL (default api.telegram.org)")
        parser.add_argument("--secret", default="", help="Telegram bot token, SMTP password, or the webhook's HMAC key")
        parser.add_argument("--address", default="", help="Telegram chat id; email recipients, comma separated")
        parser.add_argument("--min-priority", default="normal", choices=list(PRIORITIES))
        parser.add_argument("--account", default="", help="Only this account's alerts (its name); default: every account")
        parser.add_argument("--smtp-host", default="")
        parser.add_argument("--smtp-port", type=int, default=None)
        parser.add_argument("--smtp-user", default="")
        parser.add_argument("--no-tls", action="store_true", help="Plain SMTP (a trusted local relay only)")
        parser.add_argument("--email-from", default="")
        parser.add_argument("--quiet", default="", metavar="HH:MM-HH:MM", help="Quiet hours, UTC (e.g. 22:00-07:00)")
        super().add_arguments(parser)

    def act(self, *, actor, reason, **options) -> str:
        quiet_from, quiet_until = _quiet(options["quiet"])
        values = {
            "kind": options["kind"],
            "name": options["name"] or options["kind"],
            "url": options["url"],
            "secret": options["secret"],
            "address": options["address"],
            "min_priority": PRIORITIES[options["min_priority"]],
            "account": _account(options["account"]),
            "smtp_host": options["smtp_host"],
            "smtp_port": options["smtp_port"],
            "smtp_user": options["smtp_user"],
            "smtp_tls": not options["no_tls"],
            "email_from": options["email_from"],
            "quiet_from": quiet_from,
            "quiet_until": quiet_until,
        }
        channel = channel_add(actor=actor, values=values, via=self.via)
        return f"channel #{channel.pk} added: {channel} (alerts from {channel.get_min_priority_display()} up)"


def _account(name: str):
    if not name:
        return None
    account = ExchangeAccount.objects.filter(name=name).first()
    if account is None:
        raise CommandError(f"no account named {name!r}")
    return account


def _quiet(text: str) -> tuple[time | None, time | None]:
    if not text:
        return None, None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError as error:
        raise CommandError(f"--quiet takes HH:MM-HH:MM in UTC, e.g. 22:00-07:00 (not {text!r})") from error
    return start, end
