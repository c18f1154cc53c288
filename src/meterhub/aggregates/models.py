"""Figures derived from readings and kept current as readings arrive (see maintain.py).

Every row can be recomputed from the readings at any time; the processing step replaces
the rows of exactly the days it recomputes, so re-delivery and late data converge on the
same rows. `site`, `building` and `kind` on a meter's day are where the meter served that
day (its installation), so building and site totals are one GROUP BY away.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from meterhub.assets.models import Building, Meter, MeterKind, Site


class Flags(models.Model):
    complete = models.BooleanField(_("complete"), default=False)
    estimated_share = models.FloatField(_("estimated share"), default=0)
    rollover = models.BooleanField(_("rollover"), default=False)
    backwards = models.BooleanField(_("register went backwards"), default=False)
    exchange = models.BooleanField(_("meter installed, removed or exchanged"), default=False)

    class Meta:
        abstract = True


class MeterDay(Flags):
    """One meter's consumption of one cumulative register over one local day."""

    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="+")
    quantity = models.CharField(_("quantity"), max_length=40)
    day = models.DateField(_("day"))
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    building = models.ForeignKey(Building, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=MeterKind.choices)
    start_value = models.DecimalField(_("start"), max_digits=20, decimal_places=6)
    end_value = models.DecimalField(_("end"), max_digits=20, decimal_places=6)
    consumption = models.DecimalField(_("consumption"), max_digits=20, decimal_places=6)
    unit = models.CharField(_("unit"), max_length=12, blank=True)
    reads = models.PositiveIntegerField(_("reads"), default=0)
    actual_reads = models.PositiveIntegerField(_("actual reads"), default=0)
    by_hour = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meter", "quantity", "day"], name="one_meter_day")]
        indexes = [models.Index(fields=["site", "day", "quantity"])]
        ordering = ["day", "meter_id", "quantity"]


class MeterMonth(Flags):
    """A meter's month: the sum of its days. `complete` when every day of the month is."""

    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="+")
    quantity = models.CharField(_("quantity"), max_length=40)
    month = models.DateField(_("month"))  # its first day
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    building = models.ForeignKey(Building, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=MeterKind.choices)
    consumption = models.DecimalField(_("consumption"), max_digits=20, decimal_places=6)
    unit = models.CharField(_("unit"), max_length=12, blank=True)
    days = models.PositiveSmallIntegerField(_("days"), default=0)
    complete_days = models.PositiveSmallIntegerField(_("complete days"), default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meter", "quantity", "month"], name="one_meter_month")]
        indexes = [models.Index(fields=["site", "month", "quantity"])]
        ordering = ["month", "meter_id", "quantity"]


class Total(models.Model):
    """A building's (or, with no building, the whole site's) consumption of one utility.
    `consumption` sums the meters of its premises (master meters excluded); `master`
    is what the master meters measured, so master - consumption is the line loss."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    building = models.ForeignKey(Building, null=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=MeterKind.choices)
    consumption = models.DecimalField(_("consumption"), max_digits=20, decimal_places=6)
    unit = models.CharField(_("unit"), max_length=12, blank=True)
    meters = models.PositiveIntegerField(_("meters"), default=0)
    complete_meters = models.PositiveIntegerField(_("meters complete"), default=0)
    master = models.DecimalField(_("master meter"), max_digits=20, decimal_places=6, null=True)
    master_complete = models.BooleanField(default=False)

    class Meta:
        abstract = True

    @property
    def loss(self):
        return None if self.master is None else self.master - self.consumption

    @property
    def loss_share(self) -> float | None:
        return None if not self.master else float(self.loss / self.master)


class TotalDay(Total):
    day = models.DateField(_("day"))
    by_hour = models.JSONField(default=list, blank=True)  # summed over the meters, for "same time yesterday"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "kind", "day"], condition=Q(building__isnull=True),
                                    name="one_site_total_day"),
            models.UniqueConstraint(fields=["building", "kind", "day"], condition=Q(building__isnull=False),
                                    name="one_building_total_day"),
        ]
        indexes = [models.Index(fields=["site", "day"])]
        ordering = ["day", "site_id", "building_id", "kind"]


class TotalMonth(Total):
    month = models.DateField(_("month"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "kind", "month"], condition=Q(building__isnull=True),
                                    name="one_site_total_month"),
            models.UniqueConstraint(fields=["building", "kind", "month"], condition=Q(building__isnull=False),
                                    name="one_building_total_month"),
        ]
        indexes = [models.Index(fields=["site", "month"])]
        ordering = ["month", "site_id", "building_id", "kind"]


class MasterMeter(models.Model):
    """A meter that measures a whole building's supply (or, with no building, the site's
    incoming supply) rather than a premise. Its consumption is not added to the totals
    it measures; it is set beside them (line loss = master - sum of the premises' meters)."""

    meter = models.OneToOneField(Meter, on_delete=models.CASCADE, related_name="master_of",
                                 verbose_name=_("meter"))
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site"))
    building = models.ForeignKey(Building, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("building"))

    class Meta:
        verbose_name = _("master meter")


class CollectionDay(models.Model):
    """Per site and local day: how many meters should have been read and how many were."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    expected = models.PositiveIntegerField(_("meters expected"))
    read = models.PositiveIntegerField(_("meters read"))
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="one_collection_day")]
        ordering = ["-day", "site_id"]

    @property
    def share(self) -> float | None:
        return self.read / self.expected if self.expected else None


class Why(models.TextChoices):
    NEVER_READ = "never_read", _("Never read")
    NO_COLLECTOR = "no_collector", _("No collector")
    COLLECTOR_OFFLINE = "collector_offline", _("Collector offline")
    METER_SILENT = "meter_silent", _("Meter silent")


class MissingMeter(models.Model):
    collection = models.ForeignKey(CollectionDay, on_delete=models.CASCADE, related_name="missing")
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("why"), max_length=20, choices=Why.choices)

    class Meta:
        ordering = ["collection", "meter__serial"]
