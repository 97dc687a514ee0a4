"""Sending one rendered message to one channel, once. Retrying is the caller's (services).

Email goes through apprise (`mailto://` / `mailtos://`, any SMTP host). The HTTP channels use
requests with a configurable base URL: apprise's notify() answers only True/False, so it cannot
tell us a 429 and its `retry_after`, nor let a test or a self-hosted gateway (a local Telegram Bot
API server) replace the fixed api.telegram.org / discord.com / hooks.slack.com hosts, and its
json:// body has a fixed shape. The shapes sent are Telegram's `sendMessage`, Discord's and
Slack's incoming webhooks, and our own JSON for generic webhooks.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import quote

import apprise
import requests
from django.conf import settings

from apps.alerts import render
from apps.alerts.models import Channel


@dataclass(frozen=True)
class SendResult:
    outcome: str  # "sent", "retry" (worth another attempt) or "failed" (another would fail the same way)
    response: str
    retry_after: float | None = None  # seconds the receiver asked us to wait (429)


def send(channel: Channel, message: render.Message) -> SendResult:
    """Never raises for a receiver's failure: every outcome is a SendResult."""
    try:
        if channel.kind == Channel.Kind.EMAIL:
            return _email_send(channel, message)
        url, payload, headers = _http_request(channel, message)
    except ValueError as error:  # a channel configured badly: retrying cannot help
        return SendResult("failed", str(error))
    return _http_post(url, payload, headers, telegram=channel.kind == Channel.Kind.TELEGRAM)


def _http_request(channel: Channel, message: render.Message) -> tuple[str, bytes, dict]:
    headers = {"Content-Type": "application/json", "User-Agent": "tradedesk-alerts"}
    if channel.kind == Channel.Kind.TELEGRAM:
        if not channel.secret or not channel.address:
            raise ValueError("a Telegram channel needs the bot token and the chat id")
        base = (channel.url or settings.ALERTS_TELEGRAM_API_URL).rstrip("/")
        url, payload = (
            f"{base}/bot{quote(channel.secret, safe=':')}/sendMessage",
            render.telegram_payload(message, chat_id=channel.address),
        )
    else:
        if not channel.url:
            raise ValueError(f"a {channel.get_kind_display()} channel needs its webhook URL")
        url = channel.url
        payload = {
            Channel.Kind.DISCORD: render.discord_payload,
            Channel.Kind.SLACK: render.slack_payload,
            Channel.Kind.WEBHOOK: render.webhook_payload,
        }[channel.kind](message)
    body = json.dumps(payload, separators=(",", ":")).encode()
    if channel.kind == Channel.Kind.WEBHOOK:
        headers["Idempotency-Key"] = message.key  # a receiver may drop a repeat (see services: outcome unknown)
        if channel.secret:
            headers["X-Tradedesk-Signature"] = "sha256=" + hmac.new(channel.secret.encode(), body, hashlib.sha256).hexdigest()
    return url, body, headers


def _http_post(url: str, body: bytes, headers: dict, *, telegram: bool) -> SendResult:
    try:
        reply = requests.post(url, data=body, headers=headers, timeout=settings.ALERTS_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        return SendResult("retry", f"not reachable: {type(error).__name__}")
    text = f"{reply.status_code} {reply.text[:500]}"
    if reply.status_code == 429:
        return SendResult("retry", text, retry_after=_retry_after(reply))
    if reply.status_code >= 500:
        return SendResult("retry", text)
    if reply.status_code >= 400:
        return SendResult("failed", text)
    if telegram and not _json(reply).get("ok", False):
        return SendResult("failed", text)
    return SendResult("sent", text)


def _retry_after(reply: requests.Response) -> float | None:
    """Discord's body `retry_after`, Telegram's `parameters.retry_after`, or the Retry-After header."""
    data = _json(reply)
    for value in (data.get("retry_after"), (data.get("parameters") or {}).get("retry_after"), reply.headers.get("Retry-After")):
        try:
            if value is not None:
                return max(0.0, float(value))
        except (TypeError, ValueError):
            continue
    return None


def _json(reply: requests.Response) -> dict:
    try:
        data = reply.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _email_send(channel: Channel, message: render.Message) -> SendResult:
    if not channel.smtp_host or not channel.address or not channel.email_from:
        raise ValueError("an email channel needs the SMTP host, the sender and the recipients")
    subject, body = render.email_content(message)
    notifier = apprise.Apprise()
    if not notifier.add(email_url(channel)):
        raise ValueError("the email channel's settings do not make a valid SMTP address")
    sent = notifier.notify(title=subject, body=body, body_format=apprise.NotifyFormat.HTML)
    return SendResult("sent", "250 accepted") if sent else SendResult("retry", "the SMTP server did not accept it")


def email_url(channel: Channel) -> str:
    """apprise's address for the channel's SMTP server (never logged: it holds the password)."""
    scheme = "mailtos" if channel.smtp_tls else "mailto"
    login = f"{quote(channel.smtp_user, safe='')}:{quote(channel.secret, safe='')}@" if channel.smtp_user else ""
    port = channel.smtp_port or (587 if channel.smtp_tls else 25)
    recipients = ",".join(address.strip() for address in channel.address.split(",") if address.strip())
    query = {"from": channel.email_from, "to": recipients, "smtp": channel.smtp_host, "format": "html"}
    if channel.smtp_tls:
        query["mode"] = "starttls"
    else:
        query["mode"] = "insecure"
    query_text = "&".join(f"{name}={quote(value, safe='@,.')}" for name, value in query.items())
    return f"{scheme}://{login}{channel.smtp_host}:{port}?{query_text}"
