"""Handing a message to the outside world: one adapter per channel, blocking I/O (the
worker runs them in a thread, never on the event loop).

An adapter returns the gateway's reference on acceptance or raises DeliveryError;
`permanent` errors (a gateway saying the number is invalid, a 4xx) are not retried.
Every adapter sends the message's delivery key, so a gateway that keeps it recognises a
re-send after a crash (SMS `client_ref`, WeChat `client_msg_id`, e-mail Message-ID,
webhook event id + X-Meterhub-Delivery).
"""

from __future__ import annotations

import json
import os
import smtplib
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from meterhub.notifications import signing

TIMEOUT_S = 15.0


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Adapter(Protocol):
    def send(self, message) -> str: ...


def _post_json(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - configured URLs
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode("utf-8", "replace")
        raise DeliveryError(f"HTTP {exc.code}: {detail}", permanent=400 <= exc.code < 500 and exc.code != 429) \
            from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc


def _json_reply(raw: bytes) -> dict:
    try:
        out = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


@dataclass
class HttpSmsGateway:
    """A generic HTTP SMS gateway: POST {to, text, client_ref} with a bearer key; it answers
    {"id": "..."} (SMS providers differ in field names; a provider is one such class)."""

    url: str
    api_key: str = ""

    def send(self, message) -> str:
        body = json.dumps({"to": message.recipient, "text": message.body, "client_ref": str(message.delivery_key)},
                          ensure_ascii=False).encode()
        _status, raw = _post_json(self.url, body, {"Authorization": f"Bearer {self.api_key}"})
        return str(_json_reply(raw).get("id", ""))


@dataclass
class TerminalSms:
    """The demo's SMS gateway: each text is printed on the terminal that runs the demo, so a
    visitor can read the code the portal sends (`METERHUB_SMS_TO_TERMINAL=1`; a configured
    gateway wins). Never for a real site: anyone at that terminal reads every customer's codes."""

    out: object = None  # a text stream; standard output when None

    def send(self, message) -> str:
        print(f"  [SMS to {message.recipient}] {message.body}", file=self.out or sys.stdout, flush=True)
        return "terminal"


@dataclass
class WeChatTemplateGateway:
    """WeChat official-account template messages, through an HTTP endpoint taking the
    message/template/send body (the access token is the gateway's business)."""

    url: str
    template_id: str = ""
    token: str = ""

    def send(self, message) -> str:
        body = json.dumps({"touser": message.recipient, "template_id": self.template_id,
                           "client_msg_id": str(message.delivery_key), "data": message.payload.get("data", {})},
                          ensure_ascii=False).encode()
        _status, raw = _post_json(self.url, body, {"Authorization": f"Bearer {self.token}"} if self.token else {})
        reply = _json_reply(raw)
        if reply.get("errcode", 0) not in (0, "0"):
            # 43004: the user unfollowed; 40003: bad open id -- retrying will not help
            raise DeliveryError(f"WeChat errcode {reply.get('errcode')}: {reply.get('errmsg', '')}",
                                permanent=reply.get("errcode") in (40003, 43004))
        return str(reply.get("msgid", ""))


@dataclass
class SmtpMail:
    host: str
    port: int = 25
    sender: str = "meterhub@localhost"
    user: str = ""
    password: str = ""
    starttls: bool = False

    def send(self, message) -> str:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, message.recipient, message.subject or message.event
        mail["Message-ID"] = f"<{message.delivery_key}@meterhub>"
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            raise DeliveryError(f"recipient refused: {refused}", permanent=True)
        return mail["Message-ID"]


class Webhook:
    def send(self, message) -> str:
        if message.endpoint is None:
            raise DeliveryError("the webhook endpoint was removed", permanent=True)
        body = json.dumps(message.payload, ensure_ascii=False, sort_keys=True).encode()
        headers = signing.headers(message.endpoint.secret, str(message.event_id), body)
        headers["X-Meterhub-Delivery"] = str(message.delivery_key)
        status, _raw = _post_json(message.recipient, body, headers)
        return f"HTTP {status}"


def from_environment(env=os.environ) -> dict[str, Adapter]:
    """The configured channels (docs/alarms.md lists the variables); a channel left out
    fails its messages with 'not configured', which the message log shows."""
    adapters: dict[str, Adapter] = {"webhook": Webhook()}
    if env.get("METERHUB_SMS_URL"):
        adapters["sms"] = HttpSmsGateway(env["METERHUB_SMS_URL"], env.get("METERHUB_SMS_KEY", ""))
    elif env.get("METERHUB_SMS_TO_TERMINAL") == "1":
        adapters["sms"] = TerminalSms()
    if env.get("METERHUB_WECHAT_URL"):
        adapters["wechat"] = WeChatTemplateGateway(env["METERHUB_WECHAT_URL"], env.get("METERHUB_WECHAT_TEMPLATE", ""),
                                                   env.get("METERHUB_WECHAT_TOKEN", ""))
    if env.get("METERHUB_SMTP_HOST"):
        adapters["email"] = SmtpMail(env["METERHUB_SMTP_HOST"], int(env.get("METERHUB_SMTP_PORT", "25")),
                                     env.get("METERHUB_SMTP_FROM", "meterhub@localhost"),
                                     env.get("METERHUB_SMTP_USER", ""), env.get("METERHUB_SMTP_PASSWORD", ""),
                                     env.get("METERHUB_SMTP_STARTTLS", "") == "1")
    return adapters


def deliver(adapters: dict[str, Adapter], message) -> tuple[bool, str, bool]:
    """(ok, gateway reference or error, permanent). Never raises: the outcome is data."""
    adapter = adapters.get(message.channel)
    if adapter is None:
        return False, f"channel {message.channel} is not configured", True
    try:
        return True, adapter.send(message)[:120], False
    except DeliveryError as exc:
        return False, str(exc)[:300], exc.permanent
    except Exception as exc:  # an adapter bug must not stop the worker; the log keeps it
        return False, f"{type(exc).__name__}: {exc}"[:300], False
