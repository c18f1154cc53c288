"""Notifications: the outbox of messages to people and systems, and who gets what.

A Message row is written in the same transaction as the alarm (or other event) it is
about; a worker delivers it later (notifications.outbox, notifications.worker). The row
is also the record a supervisor reads when someone says "nobody told me".
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from meterhub.assets.models import Customer, Site


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    WECHAT = "wechat", _("WeChat")
    WEBHOOK = "webhook", _("Webhook")


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


# Events whose text carries a secret the recipient alone may read (a one-time code, portal.codes):
# the gateway is sent the text, but the message log neither shows it nor searches in it.
CONFIDENTIAL_EVENTS = frozenset({"portal.code"})


class Message(models.Model):
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=300)  # phone, address, open id or URL
    recipient_name = models.CharField(_("name"), max_length=150, blank=True)
    event = models.CharField(_("event"), max_length=40)  # alarm.raised, alarm.cleared, ...
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4)  # one event, many messages
    # Sent to gateways as the idempotency key: a re-send after a crash is recognised there.
    delivery_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    payload = models.JSONField(default=dict, blank=True)  # webhook body, WeChat template data
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    alarm = models.ForeignKey("alarms.Alarm", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="messages")
    endpoint = models.ForeignKey("WebhookEndpoint", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="messages")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    claimed_by = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    provider_ref = models.CharField(_("gateway reference"), max_length=120, blank=True)
    error = models.CharField(_("why it failed"), max_length=300, blank=True)
    held_reason = models.CharField(_("held"), max_length=80, blank=True)  # quiet hours

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"]), models.Index(fields=["recipient"])]
        verbose_name = _("message")

    def __str__(self):
        return f"{self.get_channel_display()} {self.recipient} {self.event}"

    @property
    def text(self) -> str:
        """What the log shows: the text sent (unless it holds a secret), or a webhook's event type."""
        if self.event in CONFIDENTIAL_EVENTS:
            return str(_("(one-time code: not shown)"))
        return self.body or str(self.payload.get("type", ""))


class Attempt(models.Model):
    """Each try to hand a message over, with what the gateway said."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(auto_now_add=True)
    node = models.CharField(max_length=64, blank=True)
    ok = models.BooleanField()
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]


class DeliveryReport(models.Model):
    """Every delivery report a gateway posted (notifications.receipts), whatever became of it:
    the trail behind a message's delivered/failed, and the record of refused posts."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", _("Applied")
        UNCHANGED = "unchanged", _("Already known")
        UNKNOWN_MESSAGE = "unknown_message", _("Unknown message")
        BAD_SIGNATURE = "bad_signature", _("Bad signature")
        MALFORMED = "malformed", _("Malformed")
        UNKNOWN_GATEWAY = "unknown_gateway", _("Unknown gateway")

    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    channel = models.CharField(_("channel"), max_length=20)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="reports")
    reference = models.CharField(_("gateway reference"), max_length=120, blank=True)
    status = models.CharField(_("reported status"), max_length=20, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    reported_at = models.DateTimeField(_("reported time"), null=True, blank=True)
    body = models.TextField(blank=True)  # kept for refused posts only
    remote_addr = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("delivery report")


class WebhookEndpoint(models.Model):
    """An integrator's URL, subscribed to event kinds; bodies are signed with its secret."""

    name = models.CharField(_("name"), max_length=80)
    url = models.URLField(_("URL"), max_length=300)
    secret = models.CharField(_("signing secret"), max_length=128)
    events = models.JSONField(_("events"), default=list, help_text=_("e.g. [\"alarm.raised\", \"alarm.cleared\"]"))
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.CASCADE, help_text=_("Blank: every site"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("webhook endpoint")

    def __str__(self):
        return self.name


class ContactPreference(models.Model):
    """How a customer wants to hear from us, and when not to be woken."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="contact_preference")
    sms = models.BooleanField(_("SMS"), default=True)
    email = models.BooleanField(_("e-mail"), default=False)
    wechat_openid = models.CharField(_("WeChat open id"), max_length=64, blank=True)
    quiet_from = models.TimeField(_("quiet from"), null=True, blank=True)
    quiet_until = models.TimeField(_("quiet until"), null=True, blank=True)


class DutyShift(models.Model):
    """An operator on duty for a site (blank: every site) between two times. Level 1 hears
    of new alarms; level 2 of alarms left unacknowledged (escalation)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="duty_shifts",
                             verbose_name=_("operator"))
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("site"))
    level = models.PositiveSmallIntegerField(_("level"), default=1, choices=[(1, _("First line")),
                                                                             (2, _("Escalation"))])
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("duty shift")
