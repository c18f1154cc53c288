"""Investigation cases: opened from alarms and inspections, worked on, closed with an outcome.

A case's entries (notes, status changes, evidence) are append-only. Evidence is copied
in when the case opens (readings around the event, the meter's seal history), so the
case shows what was known then even if records change later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.readings.models import Reading
from meterhub.seals import evidence
from meterhub.seals.models import Case, CaseEntry

C = Case.Status


def open_case(meter, title: str, actor, *, at: datetime | None = None, alarm=None, inspection=None,
              data: dict | None = None) -> Case:
    at = at or timezone.now()
    event_at = alarm.raised_at if alarm is not None else at
    with transaction.atomic():
        case = Case.objects.create(meter=meter, site=meter.site, title=title[:200], opened_at=at, alarm=alarm,
                                   inspection=inspection)
        entries = [
            CaseEntry(case=case, at=at, author=actor, kind="status", text=C.OPEN),
            CaseEntry(case=case, at=at, author=actor, kind="evidence", text="readings",
                      data={"readings": evidence.readings_around(meter, event_at)}),
            CaseEntry(case=case, at=at, author=actor, kind="evidence", text="seal_history",
                      data={"events": evidence.seal_history(meter)}),
        ]
        if alarm is not None:
            entries.append(CaseEntry(case=case, at=at, author=actor, kind="evidence", text="alarm",
                                     data={"alarm": alarm.pk, "kind": alarm.kind, "raised_at": alarm.raised_at.isoformat(),
                                           "count": alarm.count, "detail": alarm.detail}))
        if data:
            entries.append(CaseEntry(case=case, at=at, author=actor, kind="evidence", text="findings", data=data))
        for entry in entries:
            entry.save()
        audit.record("open", case, actor=actor)
    return case


def open_from_alarm(alarm, actor) -> Case:
    """One case per alarm: asking again returns the case already open for it."""
    existing = alarm.cases.exclude(status=C.CLOSED).first()
    if existing is not None:
        return existing
    if alarm.meter is None:
        raise ValidationError(_("Only alarms on a meter open seal investigations."))
    return open_case(alarm.meter, f"{alarm.get_kind_display()} {alarm.meter}", actor, alarm=alarm)


def _locked(case: Case) -> Case:
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.status == C.CLOSED:
        raise ValidationError(_("Case #%(n)s is closed.") % {"n": case.pk}, code="closed")
    return case


def assign(case: Case, assignee, actor) -> Case:
    with transaction.atomic():
        case = _locked(case)
        case.assignee = assignee
        if case.status == C.OPEN:
            case.status = C.INVESTIGATING
        case.save(update_fields=["assignee", "status"])
        CaseEntry.objects.create(case=case, at=timezone.now(), author=actor, kind="status", text=case.status,
                                 data={"assignee": assignee.username})
    return case


def add_note(case: Case, actor, text: str, photo=None) -> CaseEntry:
    if not text.strip() and photo is None:
        raise ValidationError(_("Write a note or attach a photo."))
    with transaction.atomic():
        case = _locked(case)
        return CaseEntry.objects.create(case=case, at=timezone.now(), author=actor,
                                        kind="evidence" if photo else "note", text=text, photo=photo)


def close(case: Case, actor, outcome: str, *, unbilled_kwh: Decimal | None = None, note: str = "") -> Case:
    if outcome not in Case.Outcome.values:
        raise ValidationError(_("Unknown outcome."))
    if outcome == Case.Outcome.THEFT and unbilled_kwh is None:
        raise ValidationError(_("Confirmed theft needs the estimated unbilled energy."), code="estimate_needed")
    with transaction.atomic():
        case = _locked(case)
        case.status, case.outcome, case.closed_at = C.CLOSED, outcome, timezone.now()
        case.unbilled_kwh = unbilled_kwh if outcome == Case.Outcome.THEFT else None
        case.save(update_fields=["status", "outcome", "closed_at", "unbilled_kwh"])
        CaseEntry.objects.create(case=case, at=case.closed_at, author=actor, kind="status", text=C.CLOSED,
                                 data={"outcome": outcome, "unbilled_kwh": str(unbilled_kwh or "")})
        if note.strip():
            CaseEntry.objects.create(case=case, at=case.closed_at, author=actor, kind="note", text=note)
        audit.record("close", case, {"outcome": [None, outcome]}, actor=actor)
    return case


def estimate_unbilled(meter, since: datetime, until: datetime | None = None, baseline_days: int = 30) -> dict:
    """Energy the meter should have recorded since `since`: its daily use in the
    `baseline_days` before, times the days since, minus what it did record. A starting
    figure for the analyst, who may enter another."""
    until = until or timezone.now()
    series = Reading.objects.filter(meter=meter, quantity="energy_import").order_by("ts")

    def at_or_before(t):
        return series.filter(ts__lte=t).order_by("-ts").values_list("ts", "value").first()

    base_start, base_end, last = at_or_before(since - timedelta(days=baseline_days)), at_or_before(since), \
        at_or_before(until)
    if not (base_start and base_end and last) or base_end[0] <= base_start[0]:
        return {"ok": False, "why": _("Not enough readings before the event to estimate.")}
    per_day = (base_end[1] - base_start[1]) / Decimal((base_end[0] - base_start[0]).total_seconds() / 86400)
    days = Decimal((until - since).total_seconds() / 86400)
    recorded = last[1] - base_end[1]
    expected = per_day * days
    return {"ok": True, "per_day": per_day.quantize(Decimal("0.01")), "days": days.quantize(Decimal("0.1")),
            "expected": expected.quantize(Decimal("0.01")), "recorded": recorded.quantize(Decimal("0.01")),
            "unbilled": max(Decimal(0), expected - recorded).quantize(Decimal("0.01"))}
