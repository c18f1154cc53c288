"""Readings: the big table. (meter, quantity, timestamp) is its key, so re-delivery is harmless.

The key is the primary key (no surrogate id): one index to maintain on the hot insert
path, and `meter_id` leads it, the distribution key a sharded PostgreSQL would use. On
PostgreSQL the table is partitioned by month of `ts` (migration 0002, `partitions.py`).
There is no database-level foreign key to the meter (a per-row trigger on every bulk
insert); ingest checks meters itself and Django's PROTECT still guards deletes.

`raw_value` is what the meter's register said; `value = raw_value * multiplier` (CT x PT
ratio at the time of the read) is the primary-side quantity, so every figure is explainable.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now
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
    pk = models.CompositePrimaryKey("meter", "quantity", "ts")
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, db_index=False, db_constraint=False,
                              related_name="readings")
    quantity = models.CharField(_("quantity"), max_length=40)
    ts = models.DateTimeField(_("time"))
    value = models.DecimalField(_("value"), max_digits=20, decimal_places=6)
    raw_value = models.DecimalField(_("register value"), max_digits=20, decimal_places=6)
    multiplier = models.DecimalField(_("multiplier"), max_digits=12, decimal_places=4, default=1)
    unit = models.CharField(_("unit"), max_length=12)
    quality = models.CharField(_("quality"), max_length=10, choices=Quality.choices, default=Quality.ACTUAL)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    received_at = models.DateTimeField(_("received"), db_default=Now())  # set by the database: not sent on ingest

    class Meta:
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


class DirtyDay(models.Model):
    """A meter's UTC day whose readings changed since its aggregates and checks were last
    brought up to date. Written in the same transaction as the readings, removed in the
    same transaction as the aggregates: a crash between the two repeats work, never skips it."""

    pk = models.CompositePrimaryKey("meter_id", "day")
    meter_id = models.BigIntegerField()
    day = models.DateField()
    marked_at = models.DateTimeField(auto_now=True)


class RejectedReading(models.Model):
    """A reading ingest refused, kept with its reason so nothing disappears silently."""

    rejected_at = models.DateTimeField(_("rejected"), auto_now_add=True, db_index=True)
    meter_ref = models.CharField(_("meter"), max_length=40)
    quantity = models.CharField(_("quantity"), max_length=80)
    ts = models.CharField(_("time"), max_length=40)
    value = models.CharField(_("value"), max_length=80)
    source = models.CharField(_("source"), max_length=20)
    reason = models.CharField(_("reason"), max_length=200)

    class Meta:
        ordering = ["-rejected_at"]


class ReadingConflict(models.Model):
    """The same (meter, quantity, ts) delivered again with a different value. The stored
    value stays (first actual wins); the other is kept here for an analyst to judge."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="+")
    quantity = models.CharField(_("quantity"), max_length=40)
    ts = models.DateTimeField(_("time"))
    stored_value = models.DecimalField(_("stored value"), max_digits=20, decimal_places=6)
    other_value = models.DecimalField(_("other value"), max_digits=20, decimal_places=6)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    seen_at = models.DateTimeField(_("seen"), auto_now_add=True)

    class Meta:
        ordering = ["-seen_at"]
        constraints = [models.UniqueConstraint(fields=["meter", "quantity", "ts", "other_value"],
                                               name="one_conflict_per_value")]
