"""People judging findings: accept (the value is right) or resolve (it has been dealt with)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit, roles
from meterhub.readings.models import Quality, Reading
from meterhub.vee.models import Finding


def _suspect_times(finding: Finding) -> list[datetime]:
    """The readings this finding made suspect (validation keeps them in detail["suspect"])."""
    return [datetime.fromisoformat(ts) for ts in finding.detail.get("suspect", [])]


@transaction.atomic
def decide(finding: Finding, status: str, note: str, user) -> Finding:
    """Accept or resolve an open finding. Accepting says the reading is right after all:
    readings the rule marked suspect go back to actual, and the rule leaves them alone."""
    if user is None or not user.has_capability(roles.READINGS_EDIT):
        raise PermissionDenied(_("Judging findings needs the readings.edit capability"))
    if status not in (Finding.Status.ACCEPTED, Finding.Status.RESOLVED):
        raise ValidationError(_("A finding can be accepted or resolved"))
    if not (note or "").strip():
        raise ValidationError(_("Add a note that says why"))
    finding = Finding.objects.select_for_update().get(pk=finding.pk)
    before = finding.status
    finding.status, finding.note = status, note.strip()[:300]
    finding.decided_by, finding.decided_at = user, timezone.now()
    finding.save()
    if status == Finding.Status.ACCEPTED and finding.quantity:
        Reading.objects.filter(meter_id=finding.meter_id, quantity=finding.quantity, ts__in=_suspect_times(finding),
                               quality=Quality.SUSPECT).update(quality=Quality.ACTUAL)
    audit.record("vee_finding", finding.meter, {"finding": [None, f"{finding.rule} {finding.day}"],
                                                "status": [before, status], "note": [None, finding.note]},
                 actor=user)
    return finding
