"""Custody: every seal accounted for from delivery to destruction.

    in stock -> issued (to a named technician) -> installed (meter/collector, position)
             -> removed (with a reason) -> returned -> destroyed
    side states: lost (from issued, installed, removed), void/defective (from in stock or
    issued), foreign (found on site, not ours; recorded, then destroyed as evidence allows)

Each transition appends a SealEvent (who, when, where, photo, notes) and updates the
seal in one transaction, with the seal row locked: two technicians acting on one seal
at once get one success and one clear refusal. Anything else is refused with a
message that says what the seal's state is and what would be allowed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.alarms import services as alarms
from meterhub.seals import keys
from meterhub.seals.models import Photo, Position, Seal, SealBatch, SealEvent, SealState, SealType

S = SealState

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "issue": ((S.IN_STOCK,), S.ISSUED),
    "hand_back": ((S.ISSUED,), S.IN_STOCK),
    "install": ((S.ISSUED,), S.INSTALLED),
    "remove": ((S.INSTALLED,), S.REMOVED),
    "return": ((S.REMOVED,), S.RETURNED),
    "destroy": ((S.RETURNED, S.VOID, S.FOREIGN), S.DESTROYED),
    "lose": ((S.ISSUED, S.INSTALLED, S.REMOVED), S.LOST),
    "void": ((S.IN_STOCK, S.ISSUED), S.VOID),
}

SEAL_ALARMS = ("seal_open", "foreign_seal", "seal_unknown")


@dataclass
class Where:
    """Who did it, when and where, and what proves it: common to every transition."""

    actor: object
    at: datetime | None = None
    location: str = ""
    notes: str = ""
    photo: Photo | None = None
    extra: dict = field(default_factory=dict)


def _refuse(seal: Seal, action: str) -> ValidationError:
    allowed, _to = TRANSITIONS[action]
    return ValidationError(
        _("Seal %(serial)s is %(state)s: it cannot be %(action)s (only a seal that is %(allowed)s can).") % {
            "serial": seal.serial, "state": seal.get_state_display().lower(), "action": ACTION_LABELS[action],
            "allowed": _(" or ").join(str(SealState(s).label).lower() for s in allowed)},
        code="illegal_transition")


ACTION_LABELS = {
    "issue": _("issued"), "hand_back": _("handed back to stock"), "install": _("installed"),
    "remove": _("removed"), "return": _("returned"), "destroy": _("destroyed"), "lose": _("reported lost"),
    "void": _("voided"),
}


def _transition(seal: Seal | str, action: str, where: Where, **changes) -> Seal:
    """Lock the seal, check the move, apply `changes`, append the event."""
    allowed, to_state = TRANSITIONS[action]
    serial = seal.serial if isinstance(seal, Seal) else seal
    at = where.at or timezone.now()
    with transaction.atomic():
        try:
            locked = Seal.objects.select_for_update().get(serial=serial)
        except Seal.DoesNotExist:
            raise ValidationError(_("There is no seal %(serial)s in the registry.") % {"serial": serial},
                                  code="unknown_seal") from None
        if locked.state not in allowed:
            raise _refuse(locked, action)
        from_state = locked.state
        event_fields = {k: changes.pop(k) for k in ("technician", "reason", "job") if k in changes}
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.state, locked.updated_at = to_state, at
        locked.save()
        SealEvent.objects.create(
            seal=locked, action=action, from_state=from_state, to_state=to_state, at=at, actor=where.actor,
            meter=locked.meter, collector=locked.collector, position=locked.position, location=where.location[:200],
            notes=where.notes, photo=where.photo, **event_fields)
    return locked


# --- stock -----------------------------------------------------------------------------

def receive_batch(reference: str, seal_type: str, first: int, last: int, where: Where, *, prefix: str = "",
                  digits: int = 6, supplier: str = "", chip_assets: dict[str, str] | None = None) -> SealBatch:
    """A delivery of seals numbered prefix+first .. prefix+last, all in stock."""
    if first > last:
        raise ValidationError(_("The first number must not be after the last."))
    if last - first >= 100_000:
        raise ValidationError(_("A batch holds at most 100,000 seals."))
    if len(f"{prefix}{last:0{digits}d}") > 24:
        raise ValidationError(_("Seal numbers are at most 24 characters."))
    at = where.at or timezone.now()
    batch = SealBatch(reference=reference, seal_type=seal_type, prefix=prefix, first=first, last=last,
                      digits=digits, supplier=supplier, received_at=at, received_by=where.actor)
    serials = [batch.serial(n) for n in range(first, last + 1)]
    clash = list(Seal.objects.filter(serial__in=serials).values_list("serial", flat=True)[:5])
    if clash:
        raise ValidationError(_("These seal numbers are already registered: %(s)s") % {"s": ", ".join(clash)})
    chip_assets = chip_assets or {}
    with transaction.atomic():
        batch.save()
        seals = Seal.objects.bulk_create(
            Seal(serial=s, batch=batch, seal_type=seal_type, state=S.IN_STOCK, updated_at=at,
                 chip_asset=chip_assets.get(s, _default_chip_asset(s) if seal_type == SealType.SMART else ""))
            for s in serials)
        seals = Seal.objects.filter(batch=batch)  # primary keys on every database
        SealEvent.objects.bulk_create(
            SealEvent(seal=s, action="receive", from_state="", to_state=S.IN_STOCK, at=at, actor=where.actor,
                      location=where.location[:200], notes=where.notes, reason=reference)
            for s in seals)
    return batch


def _default_chip_asset(serial: str) -> str:
    """A smart seal's chip reports its number as digits (BCD items keep digits only)."""
    return "".join(ch for ch in serial if ch.isdigit())


def issue(serials: list[str], technician, where: Where) -> list[Seal]:
    if not technician.is_active:
        raise ValidationError(_("%(u)s's account is disabled.") % {"u": technician.username})
    with transaction.atomic():  # all or none
        return [_transition(s, "issue", where, holder=technician, technician=technician) for s in serials]


def hand_back(serial: str, where: Where) -> Seal:
    return _transition(serial, "hand_back", where, holder=None)


def void(serial: str, reason: str, where: Where) -> Seal:
    _need(reason, _("Say why the seal is void or defective."))
    return _transition(serial, "void", where, reason=reason[:200])


def report_lost(serial: str, reason: str, where: Where) -> Seal:
    _need(reason, _("Say how the seal was lost."))
    return _transition(serial, "lose", where, reason=reason[:200])


def return_to_store(serial: str, where: Where) -> Seal:
    return _transition(serial, "return", where, holder=None)


def destroy(serial: str, where: Where) -> Seal:
    return _transition(serial, "destroy", where, holder=None)


def _need(text: str, message: str) -> None:
    if not (text or "").strip():
        raise ValidationError(message, code="required")


# --- in the field -------------------------------------------------------------------------

def installed_at(meter=None, collector=None, position: str = "") -> Seal | None:
    return Seal.objects.filter(state=S.INSTALLED, meter=meter, collector=collector, position=position).first()


def install(serial: str, where: Where, *, meter=None, collector=None, position: str, job: str = "") -> Seal:
    """Put an issued seal on a meter (or collector) at a position; it gets its signed code.
    Only the technician holding the seal may install it, and a position holds one seal."""
    if (meter is None) == (collector is None):
        raise ValidationError(_("A seal goes on a meter or on a collector."))
    if position not in Position.values:
        raise ValidationError(_("Unknown seal position %(p)s.") % {"p": position})
    if (position == Position.COLLECTOR) != (collector is not None):
        raise ValidationError(_("The collector position is for seals on collectors only."))
    with transaction.atomic():
        seal = Seal.objects.select_for_update().filter(serial=serial).first()
        if seal is not None and seal.state == S.ISSUED and seal.holder_id != getattr(where.actor, "pk", None):
            raise ValidationError(_("Seal %(s)s is issued to %(u)s: only they can install it.")
                                  % {"s": serial, "u": seal.holder.username}, code="not_holder")
        current = installed_at(meter, collector, position)
        if current is not None:
            raise ValidationError(_("%(target)s already has seal %(s)s at the %(p)s: remove it first.") % {
                "target": meter or collector, "s": current.serial, "p": Position(position).label.lower()},
                code="position_taken")
        target = meter.serial if meter is not None else collector.code
        code = keys.sign_code(serial, target, position, (where.at or timezone.now()).date())
        # On the meter now, no longer in the technician's hand (the event keeps who fitted it).
        return _transition(serial, "install", where, meter=meter, collector=collector, position=position,
                           code=code, holder=None, technician=where.actor, job=job[:60])


def remove(serial: str, reason: str, where: Where, *, job: str = "") -> Seal:
    """Take an installed seal off; the technician who removed it now holds it. The seal
    keeps where it was in its event; its code is withdrawn (it will verify as removed)."""
    _need(reason, _("Say why the seal is removed."))
    return _transition(serial, "remove", where, holder=where.actor, technician=where.actor,
                       reason=reason[:200], job=job[:60], meter=None, collector=None, position="")


def record_foreign(serial: str, where: Where, *, meter=None, collector=None, position: str = "") -> Seal:
    """A seal found on site that is not ours: registered as foreign, with where it was."""
    serial = serial.strip()
    _need(serial, _("Give the number printed on the foreign seal (or a description)."))
    existing = Seal.objects.filter(serial=serial).first()
    if existing is not None:
        raise ValidationError(_("Seal %(s)s is ours (%(state)s), not foreign.")
                              % {"s": serial, "state": existing.get_state_display().lower()}, code="ours")
    at = where.at or timezone.now()
    with transaction.atomic():
        seal = Seal.objects.create(serial=serial[:24], seal_type=SealType.PLASTIC, state=S.FOREIGN, updated_at=at)
        SealEvent.objects.create(seal=seal, action="found", from_state="", to_state=S.FOREIGN, at=at,
                                 actor=where.actor, meter=meter, collector=collector, position=position,
                                 location=where.location[:200], notes=where.notes, photo=where.photo)
    return seal


def reseal(meter, position: str, new_serial: str, where: Where, *, job: str, reason: str = "") -> Seal:
    """An authorised job puts a new seal on: the old one (if any) is removed, the new one
    installed, and the meter's seal alarms are cleared with the job as the reason."""
    _need(job, _("A reseal needs the work order that authorised it."))
    with transaction.atomic():
        old = installed_at(meter, None, position)
        if old is not None:
            remove(old.serial, reason or _("resealed under %(job)s") % {"job": job}, where, job=job)
        seal = install(new_serial, where, meter=meter, position=position, job=job)
        alarms.clear_for_meter(meter, SEAL_ALARMS, where.actor,
                               _("Resealed with %(s)s under work order %(job)s") % {"s": new_serial, "job": job})
    return seal


# --- accounting ----------------------------------------------------------------------------

def stock_by_technician() -> list[dict]:
    """Per technician: seals held now (issued, and removed not yet returned)."""
    rows = (Seal.objects.filter(holder__isnull=False, state__in=(S.ISSUED, S.REMOVED))
            .values("holder__username", "holder_id", "state").annotate(n=Count("id")))
    out: dict[int, dict] = {}
    for r in rows:
        entry = out.setdefault(r["holder_id"], {"technician": r["holder__username"], "issued": 0, "removed": 0})
        entry["issued" if r["state"] == S.ISSUED else "removed"] = r["n"]
    return sorted(out.values(), key=lambda e: e["technician"])


def reconcile(technician, counted: list[str] | None = None) -> dict:
    """What became of every seal issued to a technician (from the events), and, given the
    serials they have in hand, which held seals are missing and which are unexpected."""
    issued_seals = SealEvent.objects.filter(action="issue", technician=technician).values("seal_id")
    events = (SealEvent.objects.filter(seal_id__in=issued_seals).order_by("seal_id", "at", "id")
              .values_list("seal_id", "action", "technician_id"))
    outcome = Counter()
    awaiting: set[int] = set()  # issued to them, nothing done with it since
    for seal_id, action, technician_id in events:
        if action == "issue":
            if technician_id == technician.pk:
                awaiting.add(seal_id)
                outcome["issued"] += 1
            else:
                awaiting.discard(seal_id)
        elif seal_id in awaiting:
            awaiting.discard(seal_id)
            outcome[action] += 1
    held = set(Seal.objects.filter(holder=technician, state__in=(S.ISSUED, S.REMOVED))
               .values_list("serial", flat=True))
    result = {"issued": outcome["issued"], "installed": outcome["install"], "handed_back": outcome["hand_back"],
              "lost": outcome["lose"], "void": outcome["void"], "unused_in_hand": len(awaiting),
              "held": sorted(held)}
    if counted is not None:
        counted_set = {c.strip() for c in counted if c.strip()}
        result["missing"] = sorted(held - counted_set)
        result["unexpected"] = sorted(counted_set - held)
    return result


def history(seal: Seal):
    return seal.events.select_related("actor", "technician", "meter", "collector")


def seal_status(meter) -> dict:
    """The meter's seals now, by position, with its open seal alarms: for its page and
    its customer's."""
    from meterhub.alarms.models import Alarm, State

    seals = list(Seal.objects.filter(meter=meter, state=S.INSTALLED).order_by("position"))
    open_alarms = list(Alarm.objects.filter(meter=meter, kind__in=SEAL_ALARMS).exclude(state=State.CLEARED))
    return {"seals": seals, "alarms": open_alarms, "ok": not open_alarms}


def customer_seal_status(customer, at: datetime | None = None) -> list[dict]:
    """Seal status of every meter serving the customer now."""
    from meterhub.assets.models import MeterInstallation

    at = at or timezone.now()
    premises = customer.tenancies.filter(valid_from__lte=at).exclude(valid_to__lte=at).values("premise_id")
    meters = [row.meter for row in MeterInstallation.objects.filter(premise_id__in=premises, valid_from__lte=at)
              .exclude(valid_to__lte=at).select_related("meter")]
    return [{"meter": m, **seal_status(m)} for m in meters]
