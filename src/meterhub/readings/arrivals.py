"""reading.arrived: integrators hear which meters' readings changed, once per processing round.

A webhook per reading would flood an integrator (157 meters read every 15 minutes is 15,000
readings a day on a small site), and one per ingest batch would too when the head-end falls
back to writing records one by one. The dirty-day pipeline already gathers what changed into
meter-days, so this is its last step (after validation, estimation, aggregation, prepaid
charging and alarms): one event per site per round, listing each meter and UTC day whose
readings were stored or replaced, with the range to fetch. It is published in the round's
transaction: the event commits with the removal of the marks it reports, or neither does,
so a crash repeats the round and its event once, and a day is never left unannounced.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from meterhub.assets.models import Meter
from meterhub.notifications import dispatch
from meterhub.readings.processing import MeterDays

EVENT = "reading.arrived"


def announce(meter_days: MeterDays) -> int:
    """Publish reading.arrived for these meter-days, one event per site; how many events."""
    meters = Meter.objects.select_related("site").in_bulk({meter_id for meter_id, _day in meter_days})
    by_site = defaultdict(list)
    for meter_id, day in meter_days:
        meter = meters.get(meter_id)
        if meter is not None:
            start = datetime.combine(day, time(), tzinfo=UTC)
            by_site[meter.site].append({"meter_id": meter_id, "meter": meter.serial, "start": start,
                                        "end": start + timedelta(days=1)})
    for site, changed in by_site.items():
        dispatch.publish(EVENT, {"site": site.code, "meters": changed}, site=site)
    return len(by_site)
