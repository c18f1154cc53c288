"""`meterhub import readings FILE`: register and interval values from a spreadsheet.

For back-fills and meters read by hand or by another system. Columns: meter (serial),
quantity (a store quantity name, e.g. energy_import), time (ISO 8601; without an offset
it is the meter's site's local time), value (the register value as read; the meter's
CT x PT multiplier is applied as for any read), and optionally quality (actual or
estimated). Like every import, all rows are checked first and nothing is written unless
all are good; the write goes through the same ingest as the head-end, so rows already
stored are skipped, not doubled.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from meterhub.assets.importing import Importer, RowProblem, required
from meterhub.assets.models import Meter
from meterhub.headend.records import ReadingRecord
from meterhub.readings.ingest import BATCH, store_readings
from meterhub.readings.quantities import UNITS


class ReadingImporter(Importer):
    kind = "readings"
    columns = ("meter", "quantity", "time", "value", "quality")
    aliases = {"serial": "meter", "表号": "meter", "数据项": "quantity", "时间": "time", "抄表时间": "time",
               "读数": "value", "示数": "value", "质量": "quality"}
    example = {"meter": "E0001", "quantity": "energy_import", "time": "2026-11-01 00:00", "value": "1234.56",
               "quality": "actual"}

    def __init__(self):
        super().__init__()
        self.meters = {m.serial: m for m in Meter.objects.select_related("site")}
        self.seen: dict = {}
        self.stored = 0

    def parse(self, row: dict) -> ReadingRecord:
        serial = required(row, "meter")
        meter = self.meters.get(serial)
        if meter is None:
            raise RowProblem("meter", _("unknown meter %(s)s") % {"s": serial})
        quantity = required(row, "quantity")
        if quantity not in UNITS:
            raise RowProblem("quantity", _("unknown quantity %(q)s") % {"q": quantity})
        ts = self._time(row, meter)
        text = required(row, "value")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise RowProblem("value", _("%(v)s is not a number") % {"v": text}) from None
        if not value.is_finite():
            raise RowProblem("value", _("%(v)s is not a number") % {"v": text})
        quality = (row.get("quality") or "actual").lower()
        if quality not in ("actual", "estimated"):
            raise RowProblem("quality", _("quality must be actual or estimated"))
        self.once(self.seen, (meter.pk, quantity, ts), "time", _("reading of this meter and quantity at this time"),
                  row.get("__line__", ""))
        return ReadingRecord(meter.pk, quantity, ts, value, meter.multiplier, UNITS[quantity], "import", quality)

    @staticmethod
    def _time(row: dict, meter: Meter) -> datetime:
        text = required(row, "time")
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise RowProblem("time", _("%(v)s is not a date and time (YYYY-MM-DD HH:MM)") % {"v": text}) from None
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=zoneinfo.ZoneInfo(meter.site.time_zone))
        return ts

    def write(self, parsed: list, actor) -> int:
        stored = 0
        for i in range(0, len(parsed), BATCH * 5):
            result = store_readings(parsed[i:i + BATCH * 5])
            if result.rejected:  # checked above; a reject here is a bug, not bad input
                raise RuntimeError(f"ingest refused imported readings: {result.rejected[:3]}")
            stored += result.stored
        return stored
