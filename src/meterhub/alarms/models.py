"""Alarms: a condition on a meter, collector or site that someone must see and close.

One open alarm per (kind, meter, collector): the same condition reported again raises
its count and `last_at`, it does not open a second alarm. `raised_at` is when the
condition happened as the device recorded it (a seal chip's own time), not when the
head-end heard of it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from meterhub.assets.models import Collector, Meter, Site


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    MAJOR = "major", _("Major")
    MINOR = "minor", _("Minor")
    INFO = "info", _("Information")


class State(models.TextChoices):
    RAISED = "raised", _("Raised")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CLEARED = "cleared", _("Cleared")


class Kind(models.TextChoices):
    SEAL_OPEN = "seal_open", _("Seal opened")
    FOREIGN_SEAL = "foreign_seal", _("Foreign seal")
    SEAL_STATE_UNKNOWN = "seal_unknown", _("Seal state unreadable")
    COVER_OPEN = "cover_open", _("Meter cover opened")
    TERMINAL_COVER_OPEN = "terminal_cover_open", _("Terminal cover opened")
    COLLECTOR_OFFLINE = "collector_offline", _("Collector offline")
    METER_SILENT = "meter_silent", _("Meter not answering")
    RELAY_MISMATCH = "relay_mismatch", _("Relay differs from command")
    VOLTAGE_LOSS = "voltage_loss", _("Voltage loss / phase failure")
    REVERSE_FLOW = "reverse_flow", _("Reverse energy flow")
    CURRENT_IMBALANCE = "current_imbalance", _("Current imbalance")
    CLOCK_DRIFT = "clock_drift", _("Meter clock drift")
    GAS_LEAK = "gas_leak", _("Gas leak")
    WATER_LEAK = "water_leak", _("Water leak")
    LOW_BALANCE = "low_balance", _("Low balance")
    ARREARS = "arrears", _("Arrears")
    CONSUMPTION_DROP = "consumption_drop", _("Consumption dropped to near zero")
    CONSUMPTION_RELAY_OPEN = "consumption_relay_open", _("Consumption while the relay is open")


# How bad each kind is when raised (raise_alarm may be given another).
SEVERITY = {
    "seal_open": "critical", "foreign_seal": "critical", "seal_unknown": "major", "cover_open": "critical",
    "terminal_cover_open": "critical", "collector_offline": "major", "meter_silent": "minor",
    "relay_mismatch": "major", "voltage_loss": "major", "reverse_flow": "major", "current_imbalance": "minor",
    "clock_drift": "minor", "gas_leak": "critical", "water_leak": "major", "low_balance": "info",
    "arrears": "minor", "consumption_drop": "minor", "consumption_relay_open": "major",
}

# Kinds the customer of the premise hears about too (by their contact preferences).
CUSTOMER_KINDS = frozenset({"gas_leak", "water_leak", "low_balance", "arrears"})


class Alarm(models.Model):
    kind = models.CharField(_("alarm"), max_length=40, choices=Kind.choices, db_index=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    meter = models.ForeignKey(Meter, null=True, blank=True, on_delete=models.PROTECT, related_name="alarms",
                              verbose_name=_("meter"))
    collector = models.ForeignKey(Collector, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="alarms", verbose_name=_("collector"))
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="alarms", verbose_name=_("site"))
    raised_at = models.DateTimeField(_("raised"), db_index=True)
    last_at = models.DateTimeField(_("last occurrence"))
    count = models.PositiveIntegerField(_("count"), default=1)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.RAISED)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    cleared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    cleared_at = models.DateTimeField(_("cleared"), null=True, blank=True)
    clear_reason = models.CharField(_("why cleared"), max_length=200, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    # Times the condition came back within the flapping window after clearing by itself:
    # the same alarm reopened, no new notification.
    flaps = models.PositiveIntegerField(_("flaps"), default=0)

    class Meta:
        ordering = ["-raised_at", "-id"]
        verbose_name = _("alarm")
        constraints = [
            models.UniqueConstraint(fields=["kind", "meter", "collector"], condition=~Q(state="cleared"),
                                    name="one_open_alarm_per_condition"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.meter or self.collector or self.site}"

    @property
    def is_open(self) -> bool:
        return self.state != State.CLEARED

    @property
    def cleared_automatically(self) -> bool:
        return self.state == State.CLEARED and self.cleared_by_id is None


class AlarmSettings(models.Model):
    """Thresholds of the alarm rules for one site; a site without a row uses the defaults."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="alarm_settings",
                                verbose_name=_("site"))
    collector_offline_min = models.PositiveIntegerField(_("collector offline after (minutes)"), default=30)
    meter_silent_cycles = models.PositiveIntegerField(_("meter not answering after (failed reads)"), default=3)
    clock_drift_s = models.PositiveIntegerField(_("clock drift limit (seconds)"), default=300)
    voltage_loss_v = models.DecimalField(_("voltage loss below (V)"), max_digits=7, decimal_places=1,
                                         default=Decimal("100.0"))
    reverse_power_kw = models.DecimalField(_("reverse flow beyond (kW)"), max_digits=9, decimal_places=3,
                                           default=Decimal("0.010"))
    imbalance_pct = models.PositiveIntegerField(_("current imbalance beyond (%)"), default=50)
    imbalance_min_a = models.DecimalField(_("current imbalance only above (A)"), max_digits=7,
                                          decimal_places=2, default=Decimal("1.00"))
    relay_open_kwh = models.DecimalField(_("consumption with the relay open beyond (kWh)"), max_digits=9,
                                         decimal_places=3, default=Decimal("0.050"))
    drop_pct = models.PositiveIntegerField(
        _("consumption drop: a day below (percent of the usual day)"), default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)])
    drop_baseline_days = models.PositiveIntegerField(
        _("consumption drop: the usual day is the median of the last (days)"), default=7,
        validators=[MinValueValidator(3), MaxValueValidator(60)])
    drop_min_kwh = models.DecimalField(
        _("consumption drop: only where the usual day is at least (kWh)"), max_digits=9, decimal_places=3,
        default=Decimal("1.000"), validators=[MinValueValidator(Decimal("0.001"))])
    drop_min_m3 = models.DecimalField(
        _("consumption drop: only where the usual day is at least (m³, water and gas)"), max_digits=9,
        decimal_places=3, default=Decimal("0.050"), validators=[MinValueValidator(Decimal("0.001"))])
    escalate_after_min = models.PositiveIntegerField(_("escalate when unacknowledged for (minutes)"),
                                                     default=30)
    flap_window_min = models.PositiveIntegerField(_("flapping window (minutes)"), default=10)
    close_valve_on_gas_leak = models.BooleanField(_("close the gas valve on a leak"), default=True)

    class Meta:
        verbose_name = _("alarm settings")

    @classmethod
    def for_site(cls, site_id: int) -> AlarmSettings:
        return cls.objects.filter(site_id=site_id).first() or cls(site_id=site_id)
