"""Evidence kept with seal records and cases: photos, and the meter's readings around a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from meterhub.readings.models import Reading
from meterhub.seals.models import Photo, SealEvent

MAX_PHOTO_BYTES = 8 * 1024 * 1024


def save_photo(upload, user) -> Photo | None:
    """A photo from a form upload (None when none was given)."""
    if upload is None:
        return None
    content_type = getattr(upload, "content_type", "") or ""
    if not content_type.startswith("image/"):
        raise ValidationError(_("A photo must be an image (JPEG or PNG)."))
    if upload.size > MAX_PHOTO_BYTES:
        raise ValidationError(_("A photo may be at most 8 MB."))
    return Photo.objects.create(content_type=content_type[:40], data=upload.read(), taken_by=user)


def readings_around(meter, at: datetime, hours: int = 24) -> list[dict]:
    """The meter's energy and power readings from `hours` before to `hours` after."""
    rows = (Reading.objects.filter(meter=meter, ts__gte=at - timedelta(hours=hours),
                                   ts__lte=at + timedelta(hours=hours),
                                   quantity__in=("energy_import", "energy_combined", "power_active"))
            .order_by("ts").values_list("quantity", "ts", "value", "unit")[:500])
    return [{"quantity": q, "ts": ts.isoformat(), "value": str(v), "unit": u} for q, ts, v, u in rows]


def seal_history(meter) -> list[dict]:
    rows = (SealEvent.objects.filter(meter=meter).select_related("seal", "actor").order_by("at", "id")[:200])
    return [{"at": e.at.isoformat(), "seal": e.seal.serial, "action": e.action, "position": e.position,
             "by": getattr(e.actor, "username", ""), "reason": e.reason} for e in rows]
