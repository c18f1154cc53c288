"""VEE tables: per-site thresholds, findings, the edit history and re-read requests."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from meterhub.assets.models import Meter, Site


def default_limits() -> dict:
    """Plausibility limits on what the meter itself measured (register value, before CT/PT).
    Wide on purpose: VEE asks "can this value be right?", not "is the supply good?"."""
    return {
        "voltage_a": [176, 264], "voltage_b": [176, 264], "voltage_c": [176, 264],  # 220 V +-20 %
        "frequency": [45, 55],
        "power_factor": [-1, 1],
    }


class VeeSettings(models.Model):
    """One site's validation and estimation thresholds. A site without a row uses the
    defaults below (meterhub.vee.config.for_site)."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="vee_settings",
                                verbose_name=_("site"))
    missing_grace_minutes = models.PositiveIntegerField(
        _("missing after (minutes)"), default=30,
        help_text=_("A read-plan slot counts as missing this long after it was due"))
    spike_factor = models.DecimalField(_("spike factor"), max_digits=6, decimal_places=2, default=Decimal(4),
                                       validators=[MinValueValidator(Decimal(1))])
    spike_history_days = models.PositiveIntegerField(_("spike history (days)"), default=14)
    spike_min_history_days = models.PositiveIntegerField(_("spike needs at least (days of history)"), default=7)
    spike_floor = models.DecimalField(_("spike floor"), max_digits=12, decimal_places=3, default=Decimal(5),
                                      help_text=_("A day below this consumption is never a spike"))
    limits = models.JSONField(_("limits per quantity"), default=default_limits, blank=True,
                              help_text=_('{"voltage_a": [176, 264], ...}: low and high, or null for none'))
    register_capacity = models.DecimalField(_("register capacity"), max_digits=20, decimal_places=2,
                                            default=Decimal(1_000_000),
                                            help_text=_("Where a register rolls over to zero (999999.99 -> 0)"))
    zero_days = models.PositiveIntegerField(_("zero consumption for (days)"), default=3,
                                            validators=[MinValueValidator(1)])
    tariff_tolerance = models.DecimalField(_("tariff sum tolerance"), max_digits=10, decimal_places=3,
                                           default=Decimal("0.1"))
    future_tolerance_s = models.PositiveIntegerField(_("clock tolerance (seconds)"), default=300)
    interpolation_max_slots = models.PositiveIntegerField(_("interpolate gaps up to (slots)"), default=4)
    estimation_max_hours = models.PositiveIntegerField(_("estimate gaps up to (hours)"), default=168)
    profile_weeks = models.PositiveIntegerField(_("proxy days (same weekday, weeks back)"), default=4)
    reread_window_hours = models.PositiveIntegerField(_("re-read gaps of the last (hours)"), default=24)

    class Meta:
        verbose_name = _("VEE settings")

    def __str__(self):
        return f"VEE {self.site}"


class Finding(models.Model):
    """What a validation rule found on a meter's day, kept until someone accepts or resolves it.

    One row per (meter, rule, quantity, ts) for findings about one reading, per (meter,
    rule, quantity, day) for findings about a day (ts empty): re-running a rule updates the
    row, never adds a second one."""

    class Severity(models.TextChoices):
        INFO = "info", _("Information")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted (value is right)")
        RESOLVED = "resolved", _("Resolved")

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="vee_findings",
                              verbose_name=_("meter"))
    rule = models.CharField(_("rule"), max_length=30, db_index=True)
    quantity = models.CharField(_("quantity"), max_length=40, blank=True)
    day = models.DateField(_("day"))  # the site's local day
    ts = models.DateTimeField(_("time"), null=True, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(_("note"), max_length=300, blank=True)
    found_at = models.DateTimeField(_("found"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        ordering = ["-day", "meter", "rule"]
        constraints = [
            models.UniqueConstraint(fields=["meter", "rule", "quantity", "ts"], condition=Q(ts__isnull=False),
                                    name="one_finding_per_reading"),
            models.UniqueConstraint(fields=["meter", "rule", "quantity", "day"], condition=Q(ts__isnull=True),
                                    name="one_finding_per_day"),
        ]
        indexes = [models.Index(fields=["status", "day"]), models.Index(fields=["meter", "day"])]


class ReadingEdit(models.Model):
    """A person changed or supplied a reading: what it was, what it became, who, when, why."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="reading_edits",
                              verbose_name=_("meter"))
    quantity = models.CharField(_("quantity"), max_length=40)
    ts = models.DateTimeField(_("time"))
    old_value = models.DecimalField(_("old value"), max_digits=20, decimal_places=6, null=True, blank=True)
    old_raw_value = models.DecimalField(_("old register value"), max_digits=20, decimal_places=6, null=True,
                                        blank=True)
    old_quality = models.CharField(_("old quality"), max_length=10, blank=True)  # blank: there was no reading
    old_source = models.CharField(_("old source"), max_length=10, blank=True)
    new_value = models.DecimalField(_("new value"), max_digits=20, decimal_places=6)
    new_raw_value = models.DecimalField(_("new register value"), max_digits=20, decimal_places=6)
    reason = models.CharField(_("reason"), max_length=300)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("by"))
    user_name = models.CharField(_("by"), max_length=150)  # kept if the account goes
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["meter", "quantity", "ts"])]


class ReReadRequest(models.Model):
    """A gap asked the head-end once for a fresh read (see docs/vee.md, "Re-reads")."""

    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="reread_requests")
    gap_start = models.DateTimeField(_("missing since"))
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    command = models.ForeignKey("comms.Command", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    error = models.CharField(_("not queued because"), max_length=200, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [models.UniqueConstraint(fields=["meter", "gap_start"], name="one_reread_per_gap")]
