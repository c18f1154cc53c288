"""The meter read live for the customer at the screen, through the head-end's command queue.

The meters here do not keep the prepaid balance (billing keeps it, in the ledger): what the
meter tells live is its energy register and, on DL/T 645-2007 meters, the state of its
relay from status word 3. The read is a `read_now` command like the meter page's
(web.read_now), asked for under the terminal's name, valid for `VALID_FOR`: a customer
waits at the screen, so a read that has not come by then is reported as no reply. A
collector that is offline is said at once, without queuing anything. Meters that cannot be
read on demand (M-Bus water and gas meters) show their last stored reading instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from meterhub.aggregates.quantities import MAIN
from meterhub.assets.models import Meter, Protocol
from meterhub.comms.models import Command
from meterhub.kiosk.models import Terminal
from meterhub.readings.models import Reading
from meterhub.web import read_now

# The energy register first (shown), then status word 3 (the relay) where the edition has it.
ITEMS = {
    Protocol.DLT645_2007: ["00010000", "04000503"],
    Protocol.DLT645_1997: ["00009010"],
}
VALID_FOR = timedelta(seconds=45)
OUR_RECORDS = gettext_lazy("The balance shown is from our records.")
READ_ENOUGH = gettext_lazy("Your meter was read already during this visit: the reading above stands.")


@dataclass(frozen=True)
class Live:
    state: str  # reading | ok | offline | no_reply | failed | unavailable | limit
    final: bool
    message: str
    register: str = ""  # the energy register as read, times the meter's ratio
    unit: str = ""
    relay: str = ""  # "closed" (supply on) | "open" (supply cut) | "" (not read)
    at: str = ""  # local time of the answer

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Stored:
    """The last reading we hold of a meter that cannot be read from the screen."""

    value: Decimal
    unit: str
    at: datetime


def can_read(meter: Meter) -> bool:
    return meter.protocol in ITEMS and bool(meter.collector_id)


def offline() -> Live:
    return Live("offline", True, " ".join([_("Your meter cannot be reached right now: its data collector is "
                                             "offline."), str(OUR_RECORDS)]))


def request(meter: Meter, terminal: Terminal) -> Command | Live:
    """Queue a live read of the meter, or say at once why there will be none."""
    if not can_read(meter):
        return Live("unavailable", True, _("This meter cannot be read from here."))
    if not read_now.collector_online(meter):
        return offline()
    try:
        return read_now.request(meter, items=ITEMS[meter.protocol], requested_by=terminal.audit_name,
                                reason=_("Read at self-service terminal %(code)s") % {"code": terminal.code},
                                valid_for=VALID_FOR)
    except ValidationError:
        return Live("unavailable", True, _("This meter cannot be read from here."))


def reading_of(command: Command, now: datetime | None = None) -> Live:
    """Where the read stands, in words for the customer."""
    now = now or timezone.now()
    answer = read_now.answer(command)
    if answer.ok:
        register = next((v for v in answer.values if v.item == ITEMS[command.meter.protocol][0]), None)
        relay = {True: "open", False: "closed"}.get(answer.relay_open, "")
        at = timezone.localtime(command.finished_at, ZoneInfo(command.meter.site.time_zone))
        return Live("ok", True, _("Read from your meter at %(t)s.") % {"t": formats.time_format(at, "H:i:s")},
                    (register.value or "") if register else "", register.unit if register else "", relay,
                    at.strftime("%H:%M:%S"))
    if not answer.final and now <= command.valid_until:
        if not answer.collector_online:
            return offline()
        return Live("reading", False, _("Reading your meter now…"))
    if not answer.collector_online:
        return offline()
    if answer.status == Command.Status.FAILED:
        return Live("failed", True, " ".join([_("Your meter could not be read."), str(OUR_RECORDS)]))
    return Live("no_reply", True, " ".join([_("Your meter did not reply in time."), str(OUR_RECORDS)]))


def last_stored(meter: Meter) -> Stored | None:
    quantity = MAIN.get(meter.kind)
    reading = Reading.objects.filter(meter=meter, quantity=quantity).order_by("-ts").first() if quantity else None
    return Stored(reading.value, reading.unit, reading.ts) if reading else None
