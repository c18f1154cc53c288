"""Seal-chip events from the head-end become seal alarms.

The head-end reports a chip only when its state changes (headend.seal_chips), with the
chip's own time. Here: an open chip raises a seal-open alarm at that time; a chip
whose asset number is not the one of the smart seal installed on the meter raises a
foreign-seal alarm. Closing the chip again clears nothing: only an authorised reseal
job does (custody.reseal). Re-delivered events count once (alarms.raise_alarm).
"""

from __future__ import annotations

from collections import defaultdict

from meterhub.alarms.services import raise_alarm
from meterhub.assets.models import Meter
from meterhub.seals.models import Seal, SealState, SealType

CHIP_EVENTS = ("seal_open", "seal_closed", "seal_seen", "seal_unknown")


def meters_with_smart_seals() -> frozenset[int]:
    """Meters the head-end asks for their seal-chip item: a smart seal is installed."""
    return frozenset(Seal.objects.filter(state=SealState.INSTALLED, seal_type=SealType.SMART,
                                         meter__isnull=False).values_list("meter_id", flat=True))


def same_chip(expected: str, reported: str) -> bool:
    """A BCD item reports digits, zero-padded; an ASCII item may cut the number short."""
    if expected.isdigit() and reported.isdigit():
        return int(expected) == int(reported)
    return bool(reported) and expected.startswith(reported.rstrip())


def handle_events(records) -> list:
    """Raise the alarms the chip events call for; returns [(alarm, created)]."""
    chip_records = sorted((r for r in records if r.kind in CHIP_EVENTS), key=lambda r: r.ts)
    if not chip_records:
        return []
    meter_ids = {r.meter_id for r in chip_records}
    meters = Meter.objects.select_related("site").in_bulk(meter_ids)
    smart: dict[int, list[Seal]] = defaultdict(list)
    for seal in Seal.objects.filter(meter_id__in=meter_ids, state=SealState.INSTALLED, seal_type=SealType.SMART):
        smart[seal.meter_id].append(seal)
    raised = []
    for record in chip_records:
        meter, seals = meters.get(record.meter_id), smart.get(record.meter_id)
        if meter is None or not seals:
            continue  # no smart seal of ours there (removed since the read): nothing to compare
        asset = str(record.detail.get("asset_number", ""))
        chip = {"asset_number": asset, "chip_time": record.detail.get("chip_time"),
                "seals": [s.serial for s in seals]}
        if not any(same_chip(s.chip_asset, asset) for s in seals):
            raised.append(raise_alarm("foreign_seal", record.ts, meter=meter,
                                      detail={**chip, "expected": [s.chip_asset for s in seals]}))
        if record.kind == "seal_open":
            raised.append(raise_alarm("seal_open", record.ts, meter=meter, detail=chip))
        elif record.kind == "seal_unknown":
            raised.append(raise_alarm("seal_unknown", record.ts, meter=meter,
                                      detail={**chip, "state_raw": record.detail.get("state_raw")}))
    return raised
