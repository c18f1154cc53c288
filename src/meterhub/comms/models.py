"""What the head-end saw of the field: link transitions (append-only) and current state."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from meterhub.assets.models import Collector, Meter


class LinkEvent(models.Model):
    """A collector bus connection came up, went down, or was refused. Never updated."""

    class Kind(models.TextChoices):
        ONLINE = "online", _("Online")
        OFFLINE = "offline", _("Offline")
        REPLACED = "replaced", _("Replaced by a new connection")
        REFUSED = "refused", _("Refused")

    at = models.DateTimeField(_("time"), db_index=True)
    collector = models.ForeignKey(Collector, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="link_events")
    registration_id = models.CharField(_("registration id"), max_length=64)
    port = models.PositiveSmallIntegerField(_("bus port"), default=1)
    kind = models.CharField(_("event"), max_length=10, choices=Kind.choices)
    peer = models.CharField(_("remote address"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    node = models.CharField(_("head-end"), max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["collector", "at"])]


class BusLink(models.Model):
    """Current state of one collector bus connection, kept beside the event history."""

    collector = models.ForeignKey(Collector, on_delete=models.CASCADE, related_name="bus_links")
    port = models.PositiveSmallIntegerField(_("bus port"), default=1)
    online = models.BooleanField(_("online"), default=False)
    since = models.DateTimeField(_("since"))
    last_seen = models.DateTimeField(_("last seen"))
    peer = models.CharField(_("remote address"), max_length=64, blank=True)
    node = models.CharField(_("head-end"), max_length=64, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["collector", "port"], name="one_link_state_per_bus")]


class MeterCommStatus(models.Model):
    meter = models.OneToOneField(Meter, on_delete=models.CASCADE, related_name="comm_status", primary_key=True)
    last_attempt = models.DateTimeField(_("last attempt"), null=True)
    last_success = models.DateTimeField(_("last success"), null=True)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    successes = models.PositiveIntegerField(_("successful reads"), default=0)
    failures = models.PositiveIntegerField(_("failed reads"), default=0)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)

    @property
    def success_rate(self) -> float | None:
        total = self.successes + self.failures
        return self.successes / total if total else None


class ReadPlan(models.Model):
    """A scheduled read: which meters, which data, when (cron, in the site's local time)."""

    class Items(models.TextChoices):
        INSTANT = "instant", _("Energy registers and instantaneous values")
        # Live registers read right after midnight, not the meter's frozen records (future work).
        DAILY = "daily", _("Daily midnight registers (live energy registers read right after midnight)")
        STATUS = "status", _("Status words (relay state)")
        CLOCK = "clock", _("Clock check and correction")

    name = models.CharField(_("name"), max_length=80, unique=True)
    cron = models.CharField(_("schedule (cron)"), max_length=80, help_text=_("e.g. */15 * * * *"))
    items = models.CharField(_("data"), max_length=20, choices=Items.choices, default=Items.INSTANT)
    site = models.ForeignKey("assets.Site", null=True, blank=True, on_delete=models.CASCADE,
                             help_text=_("Blank: every site"))
    kind = models.CharField(_("meter kind"), max_length=20, blank=True)
    jitter_s = models.PositiveIntegerField(_("spread over (seconds)"), default=120)
    enabled = models.BooleanField(_("enabled"), default=True)
    # The latest slot run by any head-end, for display; each node's own is a ReadPlanRun.
    last_slot = models.DateTimeField(_("last run for"), null=True, blank=True)

    def __str__(self):
        return self.name


class ReadPlanRun(models.Model):
    """The latest slot one head-end ran a plan for: every node reads the buses it holds."""

    plan = models.ForeignKey(ReadPlan, on_delete=models.CASCADE, related_name="runs")
    node = models.CharField(_("head-end"), max_length=64)
    last_slot = models.DateTimeField(_("last run for"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "node"], name="one_run_per_plan_and_node")]

    def __str__(self):
        return f"{self.plan} on {self.node or '?'}: {self.last_slot:%Y-%m-%d %H:%M}"


class Command(models.Model):
    """An instruction to a meter, persisted before it is sent and carried out once."""

    class Kind(models.TextChoices):
        RELAY_TRIP = "relay_trip", _("Cut supply (relay trip)")
        RELAY_CLOSE_ALLOWED = "relay_close_allowed", _("Allow reconnection (close allowed)")
        RELAY_DIRECT_CLOSE = "relay_direct_close", _("Restore supply (direct close)")
        VALVE_CLOSE = "valve_close", _("Close the valve")
        VALVE_OPEN = "valve_open", _("Open the valve")
        TIME_SYNC = "time_sync", _("Set the meter's clock")
        READ_NOW = "read_now", _("Read now")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Being carried out")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="commands")
    kind = models.CharField(_("command"), max_length=30, choices=Kind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    valid_until = models.DateTimeField(_("valid until"))
    requested_by = models.CharField(_("requested by"), max_length=150)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    node = models.CharField(_("head-end"), max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "lease_until"])]


class CommandStep(models.Model):
    """Each step of a command, append-only: queued, sent, meter's answer, confirmed, failed."""

    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="steps")
    at = models.DateTimeField(_("time"))
    step = models.CharField(_("step"), max_length=30)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    node = models.CharField(_("head-end"), max_length=64, blank=True)

    class Meta:
        ordering = ["at", "id"]


class SwitchState(models.Model):
    """Where a meter's relay or valve was last seen: by a status read or by a command's read-back.

    History stays where it is (MeterEvent, CommandStep); this row is what a new sighting is
    compared with, so a change is told once (relay.changed) however many head-ends and
    read-backs see it, and an older sighting arriving late is not taken for a change."""

    class Switch(models.TextChoices):
        RELAY = "relay", _("Relay")
        VALVE = "valve", _("Valve")

    meter = models.OneToOneField(Meter, on_delete=models.CASCADE, related_name="switch_state", primary_key=True)
    switch = models.CharField(_("relay / valve"), max_length=5, choices=Switch.choices)
    open = models.BooleanField(_("open"))
    since = models.DateTimeField(_("since"))
    seen_at = models.DateTimeField(_("last seen"))
    command = models.ForeignKey(Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                help_text=_("The command that moved it there, if one did"))
