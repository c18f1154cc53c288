"""Reading a meter now from its page: what to ask for, and what to tell the operator.

The read goes through the durable command queue like any other command (comms.commands);
the page polls `answer()` until it is final. The operator is told plainly why nothing
came: the collector is offline, the meter does not answer, or the meter refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.assets.models import Meter, Protocol
from meterhub.comms.commands import MAX_ATTEMPTS, request_command
from meterhub.comms.fleet import meter_ref
from meterhub.comms.models import BusLink, Command
from meterhub.headend.quantities import quantity_for
from meterhub.readings.quantities import label

# Energy register, then voltage, current and power of phase A: what an operator checks first.
ITEMS = {
    Protocol.DLT645_2007: ["00010000", "02010100", "02020100", "02030000"],
    Protocol.DLT645_1997: ["00009010", "0000B611", "0000B621", "0000B630"],
}
# A read nobody is waiting for any more is not worth sending: the page gives up after this.
VALID_FOR = timedelta(minutes=2)
FINAL = {Command.Status.DONE, Command.Status.FAILED, Command.Status.EXPIRED, Command.Status.CANCELLED}


def available(meter: Meter) -> bool:
    return meter.protocol in ITEMS and bool(meter.collector_id)


def request(meter: Meter, actor=None, *, items: list[str] | None = None, requested_by: str = "",
            reason: str = "", valid_for: timedelta = VALID_FOR) -> Command:
    """Queue the read (the meter page's items unless told); raises ValidationError with the
    reason when it cannot be sent."""
    return request_command(meter, Command.Kind.READ_NOW, actor=actor, requested_by=requested_by, valid_for=valid_for,
                           params={"items": ITEMS.get(meter.protocol, []) if items is None else items},
                           reason=reason or _("Read now from the meter page"))


@dataclass
class Value:
    item: str
    quantity: str
    label: str
    unit: str
    raw: str | None
    multiplier: str
    value: str | None
    error: str | None


@dataclass
class Answer:
    status: str
    final: bool
    ok: bool
    message: str
    collector_online: bool
    attempts: int
    values: list[Value]
    relay_open: bool | None = None  # when status word 3 was read: the relay as the meter reports it

    def as_json(self) -> dict:
        return asdict(self)


def collector_online(meter: Meter) -> bool:
    return BusLink.objects.filter(collector_id=meter.collector_id, port=meter.bus_port, online=True).exists()


def values_of(meter: Meter, result: dict) -> list[Value]:
    """Each item the meter answered, as raw register value x multiplier = value."""
    ref = meter_ref(meter)
    out = []
    for item, answer in sorted((result.get("values") or {}).items()):
        quantity = quantity_for(ref.version, int(item, 16))
        name = quantity.name if quantity else item
        multiplier = ref.ratio(quantity.scale) if quantity else Decimal(1)
        raw, value, error = None, None, None
        if isinstance(answer, dict):
            error = answer.get("detail") or answer.get("error") or _("no answer")
        else:
            raw = str(answer)
            try:
                value = format((Decimal(raw) * multiplier).normalize(), "f")
            except InvalidOperation:
                value = raw
        out.append(Value(item, name, str(label(name)), quantity.unit if quantity else "", raw,
                         format(multiplier.normalize(), "f"), value, error))
    return out


def answer(command: Command) -> Answer:
    meter = command.meter
    online = collector_online(meter) if meter.collector_id else False
    final = command.status in FINAL
    last_step = command.steps.order_by("-at", "-id").first()
    error = (command.result or {}).get("error", "")
    refused = (command.result or {}).get("errors")
    status = command.status
    ok = status == Command.Status.DONE
    if ok:
        message = _("The meter answered at %(t)s.") % {
            "t": timezone.localtime(command.finished_at, timezone=ZoneInfo(meter.site.time_zone)).strftime("%H:%M:%S")}
    elif status == Command.Status.FAILED and refused:
        message = _("The meter refused: %(e)s.") % {"e": ", ".join(refused)}
    elif status == Command.Status.FAILED:
        message = _("The read failed: %(e)s.") % {"e": error or _("no reason given")}
    elif status in (Command.Status.EXPIRED, Command.Status.CANCELLED):
        message = (_("No answer: the collector is offline.") if not online
                   else _("No answer from the meter before the request expired."))
    elif not online:
        message = _("The collector is offline: the read waits until it connects again, at most %(m)d minutes.") % {
            "m": VALID_FOR.seconds // 60}
    elif last_step and last_step.step == "no_answer":
        message = _("The meter did not answer; trying again (attempt %(n)d of %(max)d).") % {
            "n": command.attempts + 1, "max": MAX_ATTEMPTS}
    elif status == Command.Status.SENDING:
        message = _("Reading the meter…")
    else:
        message = _("Waiting for the head-end…")
    return Answer(status, final, ok, message, online, command.attempts, values_of(meter, command.result or {}),
                  (command.result or {}).get("relay_open"))

