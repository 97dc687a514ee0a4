"""One message per channel format. Every piece of dynamic text (titles, reasons, account names all
come from events and people) is escaped for the format it lands in."""

import html
import re
from dataclasses import dataclass
from datetime import datetime

from apps.alerts.models import Channel, Priority

DISCORD_COLOURS = {Priority.LOW: 0x95A5A6, Priority.NORMAL: 0x3498DB, Priority.HIGH: 0xE67E22, Priority.CRITICAL: 0xE74C3C}
_DISCORD_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()#-])")


@dataclass(frozen=True)
class Message:
    key: str  # the alert's dedup key: receivers may drop a repeat by it
    kind: str
    priority: int
    title: str
    body: str
    account: str  # the account's name, or "desk-wide"
    at: datetime
    digest_count: int = 0  # a digest: the alerts of this kind it stands for, beyond this one
    reminder: int = 0  # escalation: the n-th time an unacknowledged critical alert is sent again
    link: str = ""  # the alert on the desk's risk page (ALERTS_DESK_URL), where it is acknowledged

    @property
    def priority_label(self) -> str:
        return Priority(self.priority).label

    @property
    def headline(self) -> str:
        more = f" … and {self.digest_count} more" if self.digest_count else ""
        again = f"Still unacknowledged (reminder {self.reminder}): " if self.reminder else ""
        return f"{again}{self.title}{more}"

    @property
    def footer(self) -> str:
        return f"{self.account} · {self.priority_label} · {self.at:%Y-%m-%d %H:%M:%S} UTC"


def telegram_payload(message: Message, *, chat_id: str) -> dict:
    text = f"<b>{_h(message.priority_label.upper())}: {_h(message.headline)}</b>\n{_h(message.body)}\n<i>{_h(message.footer)}</i>"
    payload = {"chat_id": chat_id, "text": text, "parse_mode": "HTML", "disable_web_page_preview": True}
    if message.link:  # a URL button: acknowledging happens on the desk, logged in (see senders)
        payload["reply_markup"] = {"inline_keyboard": [[{"text": "Acknowledge on the desk", "url": message.link}]]}
    return payload


def discord_payload(message: Message) -> dict:
    return {
        "allowed_mentions": {"parse": []},  # "@everyone" in a reason must not ping a whole server
        "embeds": [
            {
                "title": _discord(message.headline)[:256],
                "description": _discord(message.body)[:4000],
                "color": DISCORD_COLOURS[Priority(message.priority)],
                "fields": [
                    {"name": "Account", "value": _discord(message.account)[:1024], "inline": True},
                    {"name": "Priority", "value": message.priority_label, "inline": True},
                ],
                "timestamp": message.at.isoformat(),
            }
        ],
    }


def slack_payload(message: Message) -> dict:
    return {
        "text": f"{message.priority_label.upper()}: {_slack(message.headline)}",  # notifications' fallback
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": f"{message.priority_label.upper()}: {message.headline}"[:150]},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack(message.body)[:3000] or " "}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack(message.footer)}]},
        ],
    }


def email_content(message: Message) -> tuple[str, str]:
    """(subject, HTML body)."""
    subject = f"[{message.priority_label.upper()}] {message.headline}"
    lines = _h(message.body).replace("\n", "<br>")  # the daily summary's lines
    body = f"<h2>{_h(message.headline)}</h2><p>{lines}</p><p><small>{_h(message.footer)}</small></p>"
    return subject, body


def webhook_payload(message: Message) -> dict:
    return {
        "key": message.key,
        "kind": message.kind,
        "priority": message.priority_label,
        "title": message.title,
        "body": message.body,
        "account": message.account,
        "at": message.at.isoformat(),
        "digest_count": message.digest_count,
        "reminder": message.reminder,
        "link": message.link,
    }


def _h(text: str) -> str:
    return html.escape(text, quote=False)


def _discord(text: str) -> str:
    return _DISCORD_MARKDOWN.sub(r"\\\1", text)


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FORMATS = {Channel.Kind.TELEGRAM, Channel.Kind.DISCORD, Channel.Kind.SLACK, Channel.Kind.EMAIL, Channel.Kind.WEBHOOK}
