"""Alarms: a condition on a meter, collector or site that someone must see and close.

One open alarm per (kind, meter, collector): the same condition reported again raises
its count and `last_at`, it does not open a second alarm. `raised_at` is when the
condition happened as the device recorded it (a seal chip's own time), not when the
head-end heard of it.
"""

from __future__ import annotations

from django.conf import settings
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
