"""Manual editing and manual insertion of readings, with a reason and a history.

`new_value` is the register value (what the meter's display shows); the stored value is
that times the reading's CT x PT multiplier (the meter's for a new reading), as for every
other reading. The original value, quality and source are kept in `ReadingEdit` with who,
when and why; the reading becomes quality `edited`, source `manual`, and its UTC day is
marked dirty in the same transaction so validation and aggregates follow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit, roles
from meterhub.assets.models import Meter
from meterhub.headend.records import ReadingRecord
from meterhub.readings import quantities
from meterhub.readings.ingest import MAX_VALUE, store_readings
from meterhub.readings.models import DirtyDay, Quality, Reading, Source
from meterhub.vee.models import ReadingEdit


def _check(user, reason: str, new_value, ts: datetime) -> Decimal:
    if user is None or not user.has_capability(roles.READINGS_EDIT):
        raise PermissionDenied(_("Editing readings needs the readings.edit capability"))
    if not (reason or "").strip():
        raise ValidationError(_("Give a reason for the change"))
    if timezone.is_naive(ts):
        raise ValidationError(_("The time must include its time zone"))
    try:
        value = Decimal(str(new_value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(_("%(v)s is not a number") % {"v": new_value}) from exc
    if not value.is_finite() or not -MAX_VALUE < value < MAX_VALUE:
        raise ValidationError(_("%(v)s is not a value a register can hold") % {"v": new_value})
    return value


def _multiplier(meter: Meter, quantity: str) -> Decimal:
    """The ratio the head-end would apply to this quantity (headend.quantities scales)."""
    if quantity.startswith("voltage"):
        return meter.pt_ratio
    if quantity.startswith("current"):
        return meter.ct_ratio
    if quantity in ("power_factor", "frequency") or meter.kind != "electricity":
        return Decimal(1)
    return meter.multiplier


@transaction.atomic
def edit_reading(meter: Meter, quantity: str, ts: datetime, new_value, reason: str, user) -> ReadingEdit:
    """Change a stored reading, or supply one where none is (or only an estimate is)."""
    value = _check(user, reason, new_value, ts)
    if not quantities.is_known(quantity):
        raise ValidationError(_("Unknown quantity %(q)s") % {"q": quantity})
    row = (Reading.objects.select_for_update().filter(meter=meter, quantity=quantity, ts=ts)
           .values("value", "raw_value", "multiplier", "quality", "source", "unit").first())
    if row is None or row["quality"] == Quality.ESTIMATED:
        multiplier, unit = (row["multiplier"], row["unit"]) if row else (_multiplier(meter, quantity), quantities.UNITS[quantity])
        result = store_readings([ReadingRecord(meter.pk, quantity, ts, value, multiplier, unit, Source.MANUAL,
                                               Quality.EDITED)])
        if result.rejected:
            raise ValidationError(result.rejected[0][1])
    else:
        multiplier = row["multiplier"]
        Reading.objects.filter(meter=meter, quantity=quantity, ts=ts).update(
            raw_value=value, value=value * multiplier, quality=Quality.EDITED, source=Source.MANUAL)
        DirtyDay.objects.update_or_create(meter_id=meter.pk, day=ts.astimezone(UTC).date(),
                                          defaults={"marked_at": timezone.now()})
    edit = ReadingEdit.objects.create(
        meter=meter, quantity=quantity, ts=ts, old_value=row and row["value"], old_raw_value=row and row["raw_value"],
        old_quality=row["quality"] if row else "", old_source=row["source"] if row else "",
        new_value=value * multiplier, new_raw_value=value, reason=reason.strip()[:300], user=user,
        user_name=user.get_username())
    audit.record("edit_reading", meter, {"reading": [None, f"{quantity} {ts.isoformat()}"],
                                         "value": [str(row["raw_value"]) if row else None, str(value)],
                                         "reason": [None, edit.reason]}, actor=user)
    return edit


def insert_reading(meter: Meter, quantity: str, ts: datetime, new_value, reason: str, user) -> ReadingEdit:
    """Supply a missing reading; refused where an actual, suspect or edited one is stored."""
    existing = Reading.objects.filter(meter=meter, quantity=quantity, ts=ts).values_list("quality", flat=True).first()
    if existing is not None and existing != Quality.ESTIMATED:
        raise ValidationError(_("A reading is already stored at that time: edit it instead"))
    return edit_reading(meter, quantity, ts, new_value, reason, user)


def history(meter: Meter, quantity: str, ts: datetime):
    return ReadingEdit.objects.filter(meter=meter, quantity=quantity, ts=ts).select_related("user")
