"""Gateways' delivery reports: what became of a message after the gateway took it.

An SMS or WeChat gateway POSTs reports to /notifications/reports/<channel>/, signed with
the shared secret configured for that channel (METERHUB_SMS_REPORT_SECRET,
METERHUB_WECHAT_REPORT_SECRET; signing.verify_report). The body is one report or a list:

    {"reports": [{"client_ref": "<our delivery key>", "id": "<gateway reference>",
                  "status": "sent" | "delivered" | "failed", "reason": "...", "at": "<ISO time>"}]}

A report finds its message by the delivery key we sent (client_ref), else by the gateway's
reference. A message's status only moves forward -- queued, sending < sent < failed <
delivered -- so reports are idempotent and may arrive in any order: a late "sent" does not
undo "delivered", and a "delivered" after a "failed" (the carrier retried) wins. Every post
is recorded (DeliveryReport), refused ones with their body.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from meterhub.notifications import signing
from meterhub.notifications.models import Channel, DeliveryReport, Message, Status

SECRETS = {Channel.SMS: "METERHUB_SMS_REPORT_SECRET", Channel.WECHAT: "METERHUB_WECHAT_REPORT_SECRET"}
RANK = {Status.QUEUED: 0, Status.SENDING: 0, Status.SENT: 1, Status.FAILED: 2, Status.DELIVERED: 3}
REPORTED = (Status.SENT, Status.DELIVERED, Status.FAILED)
MAX_REPORTS = 500
Outcome = DeliveryReport.Outcome


class MalformedReport(ValueError):
    pass


@dataclass(frozen=True)
class Report:
    status: str
    client_ref: uuid.UUID | None = None
    reference: str = ""
    reason: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Result:
    status: int  # the HTTP status to answer
    body: dict


def parse(body: bytes) -> list[Report]:
    """The reports in a post; MalformedReport says what is wrong with it."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedReport(f"not JSON: {exc}") from exc
    items = data.get("reports") if isinstance(data, dict) and "reports" in data else data
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list) or not items or len(items) > MAX_REPORTS:
        raise MalformedReport(f"expected a report or a list of 1 to {MAX_REPORTS} reports")
    return [_report(item, n) for n, item in enumerate(items)]


def _report(item, n: int) -> Report:
    if not isinstance(item, dict):
        raise MalformedReport(f"report {n}: not an object")
    status = item.get("status")
    if status not in REPORTED:
        raise MalformedReport(f"report {n}: status must be one of {', '.join(REPORTED)}, not {status!r}")
    try:
        client_ref = uuid.UUID(str(item["client_ref"])) if item.get("client_ref") else None
    except ValueError as exc:
        raise MalformedReport(f"report {n}: client_ref is not a UUID") from exc
    reference = str(item.get("id") or "")[:120]
    if client_ref is None and not reference:
        raise MalformedReport(f"report {n}: needs client_ref or id")
    at = parse_datetime(str(item["at"])) if item.get("at") else None
    if item.get("at") and (at is None or at.tzinfo is None):
        raise MalformedReport(f"report {n}: at must be an ISO time with its offset")
    return Report(status, client_ref, reference, str(item.get("reason") or "")[:300], at)


def advance(message: Message, report: Report, now: datetime) -> bool:
    """Move the message to what the report says if that is further on; False if it is not."""
    if RANK[report.status] <= RANK[message.status]:
        return False
    at = report.at or now
    message.sent_at = message.sent_at or at
    if report.status == Status.DELIVERED:
        message.delivered_at, message.error = at, ""
    elif report.status == Status.FAILED:
        message.error = report.reason or "not delivered (gateway report)"
    message.provider_ref = message.provider_ref or report.reference
    message.status = report.status
    message.save(update_fields=["status", "sent_at", "delivered_at", "error", "provider_ref"])
    return True


def _find(channel: str, report: Report) -> Message | None:
    messages = Message.objects.select_for_update().filter(channel=channel)
    if report.client_ref is not None:
        found = messages.filter(delivery_key=report.client_ref).first()
        if found is not None:
            return found
    return messages.filter(provider_ref=report.reference).first() if report.reference else None


def handle(channel: str, body: bytes, headers: Mapping[str, str], *, remote_addr: str = "",
           env: Mapping[str, str] = os.environ, now: datetime | None = None) -> Result:
    """Verify a gateway's post, then apply each report once. Every post leaves a record."""
    now = now or timezone.now()
    secret = env.get(SECRETS.get(channel, ""), "") if channel in SECRETS else ""
    refused = {"channel": channel[:20], "remote_addr": remote_addr[:64], "body": body[:4000].decode("utf-8", "replace")}
    if not secret:
        DeliveryReport.objects.create(outcome=Outcome.UNKNOWN_GATEWAY, reason="no report secret for this channel",
                                      **refused)
        return Result(404, {"error": f"no delivery reports are taken for {channel!r}"})
    if not signing.verify_report(secret, headers, body, now.timestamp()):
        DeliveryReport.objects.create(outcome=Outcome.BAD_SIGNATURE, **refused)
        return Result(403, {"error": "bad or missing signature"})
    try:
        reports = parse(body)
    except MalformedReport as exc:
        DeliveryReport.objects.create(outcome=Outcome.MALFORMED, reason=str(exc)[:300], **refused)
        return Result(400, {"error": str(exc)})
    outcomes = [apply(channel, report, now, remote_addr) for report in reports]
    known = [o for o in outcomes if o != Outcome.UNKNOWN_MESSAGE]
    return Result(200 if known else 404, {"results": outcomes})


@transaction.atomic
def apply(channel: str, report: Report, now: datetime, remote_addr: str = "") -> str:
    message = _find(channel, report)
    if message is None:
        outcome = Outcome.UNKNOWN_MESSAGE
    else:
        outcome = Outcome.APPLIED if advance(message, report, now) else Outcome.UNCHANGED
    DeliveryReport.objects.create(
        channel=channel, outcome=outcome, message=message,
        reference=report.reference or (str(report.client_ref) if report.client_ref else ""), status=report.status,
        reason=report.reason, reported_at=report.at, remote_addr=remote_addr[:64])
    return outcome
