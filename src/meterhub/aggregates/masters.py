"""Marking master meters (a building's or the site's supply meter) and recomputing the
totals they stand beside."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.aggregates import maintain
from meterhub.aggregates.models import MasterMeter, MeterDay
from meterhub.assets.models import Building, Meter


@transaction.atomic
def mark(meter: Meter, building: Building | None = None, *, actor=None) -> MasterMeter:
    """`meter` measures `building`'s supply (None: the whole site's)."""
    if building is not None and building.site_id != meter.site_id:
        raise ValidationError(_("Meter %(m)s and building %(b)s are on different sites") % {"m": meter, "b": building})
    before = MasterMeter.objects.filter(meter=meter).select_related("building").first()
    row, _created = MasterMeter.objects.update_or_create(meter=meter, defaults={"site_id": meter.site_id,
                                                                                  "building": building})
    audit.record("master_meter", meter, {"feeds": [_feeds(before), _feeds(row)]}, actor=actor)
    recompute_totals(meter)
    return row


@transaction.atomic
def unmark(meter: Meter, *, actor=None) -> None:
    before = MasterMeter.objects.filter(meter=meter).select_related("building").first()
    if before is None:
        return
    before.delete()
    audit.record("master_meter", meter, {"feeds": [_feeds(before), None]}, actor=actor)
    recompute_totals(meter)


def recompute_totals(meter: Meter) -> int:
    """The building and site totals of every day the meter has figures for; returns how many days."""
    site_days = {(meter.site_id, d) for d in MeterDay.objects.filter(meter=meter).values_list("day", flat=True)}
    maintain.refresh_sites(site_days)
    return len(site_days)


def _feeds(row: MasterMeter | None) -> str | None:
    if row is None:
        return None
    return row.building.code if row.building else _("the whole site")
