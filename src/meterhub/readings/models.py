"""Readings: the big table. (meter, quantity, timestamp) is unique so re-delivery is harmless.

`meter_id` leads every index: it is the distribution key a sharded PostgreSQL would use.
Values are as the meter reported them (register units); `multiplier` is what was applied
to get `value` so the primary-side quantity is always explainable.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from meterhub.assets.models import Meter


class Quality(models.TextChoices):
    ACTUAL = "actual", _("Actual")
    ESTIMATED = "estimated", _("Estimated")
    EDITED = "edited", _("Edited")
    SUSPECT = "suspect", _("Suspect")


class Source(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled read")
    ON_DEMAND = "on_demand", _("On-demand read")
    MQTT = "mqtt", _("MQTT feed")
    MANUAL = "manual", _("Manual")
    IMPORT = "import", _("Import")


class Reading(models.Model):
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, db_index=False)
    quantity = models.CharField(_("quantity"), max_length=40)
    ts = models.DateTimeField(_("time"))
    value = models.DecimalField(_("value"), max_digits=20, decimal_places=6)
    raw_value = models.DecimalField(_("register value"), max_digits=20, decimal_places=6)
    multiplier = models.DecimalField(_("multiplier"), max_digits=12, decimal_places=4, default=1)
    unit = models.CharField(_("unit"), max_length=12)
    quality = models.CharField(_("quality"), max_length=10, choices=Quality.choices, default=Quality.ACTUAL)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meter", "quantity", "ts"], name="one_reading_per_instant")]
        ordering = ["meter", "quantity", "-ts"]

    @property
    def quantity_label(self) -> str:
        from meterhub.readings.quantities import label

        return label(self.quantity)


class MeterEvent(models.Model):
    """Something a meter reported or the head-end noticed: relay changed, cover opened, seal opened."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("event"), max_length=40, db_index=True)
    ts = models.DateTimeField(_("time"))
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meter", "kind", "ts"], name="one_event_per_instant")]
        ordering = ["-ts"]
