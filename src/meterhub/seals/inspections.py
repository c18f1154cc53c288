"""Field inspections: a technician's check of every seal on a meter.

Each finding is checked against the registry: a scanned code is verified (signature,
meter, withdrawn), the seal found is compared with the one installed at that position,
and a seal of ours left unreported is missing. Anything but intact opens an
investigation case with the findings, photos and readings attached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.seals import custody, investigations, keys, seal_code
from meterhub.seals.custody import Where
from meterhub.seals.models import Finding, Inspection, Photo, Seal, SealState

F = Finding.Condition


@dataclass
class Found:
    position: str
    condition: str = F.INTACT
    seal_serial: str = ""
    code: str = ""
    photo: Photo | None = None


def judge(meter, found: Found, installed: Seal | None, key_list) -> tuple[str, str]:
    """(condition, code verdict): the technician's condition, made worse by what the records say."""
    verdict = ""
    condition = found.condition
    if found.code:
        result = seal_code.verify(found.code, key_list, meter.serial)
        verdict = result.verdict
        if result.code is not None and not found.seal_serial:
            found.seal_serial = result.code.seal
        if verdict != seal_code.VALID and condition == F.INTACT:
            condition = F.MISMATCH
    if condition == F.INTACT and found.seal_serial:
        if installed is None or installed.serial != found.seal_serial:
            ours = Seal.objects.filter(serial=found.seal_serial).exclude(state=SealState.FOREIGN).exists()
            condition = F.MISMATCH if ours else F.FOREIGN
    return condition, verdict


def record(meter, technician, findings: list[Found], *, notes: str = "", at: datetime | None = None):
    """Store the inspection; returns (inspection, case or None)."""
    at = at or timezone.now()
    key_list = keys.current_list()
    installed = {s.position: s for s in Seal.objects.filter(meter=meter, state=SealState.INSTALLED)}
    reported = {f.position for f in findings}
    findings = findings + [Found(position, F.MISSING) for position in installed if position not in reported]
    with transaction.atomic():
        inspection = Inspection.objects.create(meter=meter, technician=technician, at=at, notes=notes)
        rows = []
        for found in findings:
            condition, verdict = judge(meter, found, installed.get(found.position), key_list)
            rows.append(Finding.objects.create(
                inspection=inspection, position=found.position, seal_serial=found.seal_serial[:24],
                code=found.code[:400], verdict=verdict, condition=condition, photo=found.photo))
            if condition == F.FOREIGN and not Seal.objects.filter(serial=found.seal_serial).exists():
                custody.record_foreign(found.seal_serial, Where(technician, at=at, photo=found.photo,
                                                                notes=_("found at inspection %(n)s") % {"n": inspection.pk}),
                                       meter=meter, position=found.position)
        bad = [r for r in rows if r.condition != F.INTACT]
        case = None
        if bad:
            case = investigations.open_case(
                meter, _("Inspection of %(m)s: %(what)s") % {
                    "m": meter.serial, "what": ", ".join(sorted({r.get_condition_display().lower() for r in bad}))},
                technician, at=at, inspection=inspection,
                data={"findings": [{"position": r.position, "condition": r.condition, "seal": r.seal_serial,
                                    "verdict": r.verdict, "photo": r.photo_id} for r in rows]})
            for r in bad:
                if r.photo_id:
                    investigations.add_note(case, technician, _("Photo of the %(p)s") % {"p": r.get_position_display()},
                                            photo=r.photo)
    return inspection, case
