"""Effective-dated history: meter installations and exchanges, move-ins and move-outs.

Periods are half-open [valid_from, valid_to). Rows are closed, never deleted, so the
question "which meter served this premise, for which customer, on 3 March?" always
has one answer.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.assets.models import Customer, Meter, MeterInstallation, Premise, Tenancy


def _at(query, at: datetime):
    return query.filter(valid_from__lte=at).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))


def _check_after_last(rows, at: datetime, what: str) -> None:
    """A new period may not reach back into a closed one (callers refuse open ones first)."""
    last = rows.order_by("-valid_from").first()
    if last is not None and at < (last.valid_to or last.valid_from):
        raise ValidationError(
            _("%(what)s must start after %(end)s, when the previous period ended")
            % {"what": what, "end": (last.valid_to or last.valid_from).isoformat()}
        )


@transaction.atomic
def install_meter(meter: Meter, premise: Premise, at: datetime, *, note: str = "", actor=None):
    if premise.site_id != meter.site_id:
        raise ValidationError(_("Meter %(m)s and premise %(p)s are on different sites")
                              % {"m": meter, "p": premise})
    open_row = meter.installations.select_for_update().filter(valid_to__isnull=True).first()
    if open_row is not None:
        raise ValidationError(_("Meter %(m)s is already installed at %(p)s; remove or exchange it first")
                              % {"m": meter, "p": open_row.premise})
    _check_after_last(meter.installations.all(), at, _("The installation"))
    row = MeterInstallation.objects.create(meter=meter, premise=premise, valid_from=at, note=note)
    audit.record("install", meter, {"premise": [None, str(premise)], "at": [None, at.isoformat()]}, actor=actor)
    return row


@transaction.atomic
def remove_meter(meter: Meter, at: datetime, *, note: str = "", actor=None) -> MeterInstallation:
    row = meter.installations.select_for_update().filter(valid_to__isnull=True).first()
    if row is None:
        raise ValidationError(_("Meter %(m)s is not installed anywhere") % {"m": meter})
    if at <= row.valid_from:
        raise ValidationError(_("Removal must be after the installation (%(start)s)")
                              % {"start": row.valid_from.isoformat()})
    row.valid_to = at
    row.note = (row.note + " " + note).strip()[:200]
    row.save(update_fields=["valid_to", "note"])
    audit.record("remove", meter, {"premise": [str(row.premise), None], "at": [None, at.isoformat()]},
                 actor=actor)
    return row


@transaction.atomic
def exchange_meter(old: Meter, new: Meter, at: datetime, *, note: str = "", actor=None):
    """Take `old` off its premise and put `new` there at the same instant."""
    premise = remove_meter(old, at, note=note or _("exchanged for %(m)s") % {"m": new}, actor=actor).premise
    return install_meter(new, premise, at, note=note or _("replaces %(m)s") % {"m": old}, actor=actor)


@transaction.atomic
def move_in(customer: Customer, premise: Premise, at: datetime, *, note: str = "", actor=None) -> Tenancy:
    open_row = premise.tenancies.select_for_update().filter(valid_to__isnull=True).first()
    if open_row is not None:
        raise ValidationError(_("%(p)s is occupied by %(c)s; record their move-out first")
                              % {"p": premise, "c": open_row.customer})
    _check_after_last(premise.tenancies.all(), at, _("The move-in"))
    row = Tenancy.objects.create(customer=customer, premise=premise, valid_from=at, note=note)
    audit.record("move_in", customer, {"premise": [None, str(premise)], "at": [None, at.isoformat()]},
                 actor=actor)
    return row


@transaction.atomic
def move_out(customer: Customer, premise: Premise, at: datetime, *, note: str = "", actor=None) -> Tenancy:
    row = premise.tenancies.select_for_update().filter(customer=customer, valid_to__isnull=True).first()
    if row is None:
        raise ValidationError(_("%(c)s does not live at %(p)s") % {"c": customer, "p": premise})
    if at <= row.valid_from:
        raise ValidationError(_("Move-out must be after the move-in (%(start)s)")
                              % {"start": row.valid_from.isoformat()})
    row.valid_to = at
    row.save(update_fields=["valid_to"])
    audit.record("move_out", customer, {"premise": [str(premise), None], "at": [None, at.isoformat()]},
                 actor=actor)
    return row


def premise_of(meter: Meter, at: datetime) -> Premise | None:
    row = _at(meter.installations.select_related("premise"), at).first()
    return row.premise if row else None


def customer_of(premise: Premise, at: datetime) -> Customer | None:
    row = _at(premise.tenancies.select_related("customer"), at).first()
    return row.customer if row else None


def served_by(meter: Meter, at: datetime) -> tuple[Premise | None, Customer | None]:
    """The premise a meter served at an instant, and the customer responsible for it then."""
    premise = premise_of(meter, at)
    return premise, (customer_of(premise, at) if premise else None)


def occupied_throughout(installations: list[MeterInstallation], start: datetime, end: datetime) -> bool:
    """The meter (whose installation rows these are) served one premise over [start, end) and a
    tenant held it all that time: a premise where using nothing would be odd."""
    for row in installations:
        if row.valid_from <= start and (row.valid_to is None or row.valid_to >= end):
            return Tenancy.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=end), premise_id=row.premise_id,
                                          valid_from__lte=start).exists()
    return False
