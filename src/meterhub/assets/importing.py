"""Onboarding at scale: collectors, meters and customers from CSV or Excel.

Two passes. `check` reads every row and lists every problem with its line number;
`apply` runs only on a clean file and writes everything in one transaction, so a
file is imported whole or not at all. Lookups are loaded once per file, not per
row, and rows are written with bulk_create: 10,000 meters take seconds.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.assets import addresses
from meterhub.assets.models import (
    Building,
    Collector,
    Customer,
    Meter,
    MeterInstallation,
    MeterKind,
    Premise,
    Protocol,
    Site,
    Tenancy,
    Transport,
)
from meterhub.assets.tables import Table, TableError, read_table

BATCH = 1000

# Header spellings people actually use, mapped to our column names.
ALIASES = {
    "meter number": "serial", "meter_no": "serial", "表号": "serial", "表计编号": "serial",
    "meter address": "address", "通讯地址": "address", "表地址": "address",
    "collector id": "collector", "采集器": "collector", "集中器": "collector",
    "site code": "site", "站点": "site", "项目": "site",
    "building code": "building", "楼栋": "building",
    "room": "unit", "房号": "unit", "单元": "unit",
    "account": "account_no", "户号": "account_no", "name": "name", "姓名": "name", "户名": "name",
    "phone": "phone", "电话": "phone", "手机": "phone", "id number": "id_number", "身份证号": "id_number",
    "ct": "ct_ratio", "pt": "pt_ratio", "baud": "baud_rate",
}


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self):
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    dry_run: bool = True

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[int], None]


class RowProblem(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column, self.message = column, message


# --- cell parsers: text in, value out, RowProblem with a reason otherwise -----------------

def required(row: dict, column: str) -> str:
    value = row.get(column, "")
    if not value:
        raise RowProblem(column, _("%(c)s is missing") % {"c": column})
    return value


def choice(row: dict, column: str, choices, default: str, synonyms: dict[str, str] | None = None) -> str:
    text = row.get(column, "").strip()
    if not text:
        return default
    key = text.lower()
    key = (synonyms or {}).get(key, key)
    values = {c.lower(): c for c in choices.values}
    labels = {str(label).lower(): value for value, label in choices.choices}
    if key in values:
        return values[key]
    if key in labels:
        return labels[key]
    raise RowProblem(column, _("%(v)s is not one of %(opts)s") % {"v": text, "opts": ", ".join(choices.values)})


def decimal(row: dict, column: str, default: Decimal) -> Decimal:
    text = row.get(column, "")
    if not text:
        return default
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RowProblem(column, _("%(v)s is not a number") % {"v": text}) from None
    if value <= 0:
        raise RowProblem(column, _("%(c)s must be positive") % {"c": column})
    return value


def integer(row: dict, column: str, default: int, low: int, high: int) -> int:
    text = row.get(column, "")
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise RowProblem(column, _("%(v)s is not a whole number from %(lo)s to %(hi)s")
                         % {"v": text, "lo": low, "hi": high})
    return int(text)


def local_midnight(row: dict, column: str, tz_name: str) -> datetime | None:
    """A date column as the start of that day in the site's time zone, stored as UTC."""
    text = row.get(column, "")
    if not text:
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        raise RowProblem(column, _("%(v)s is not a date (YYYY-MM-DD)") % {"v": text}) from None
    return datetime.combine(day, time.min, tzinfo=zoneinfo.ZoneInfo(tz_name)).astimezone(UTC)


PROTOCOL_SYNONYMS = {
    "dl/t645-2007": "dlt645_2007", "645-2007": "dlt645_2007", "dlt645": "dlt645_2007", "2007": "dlt645_2007",
    "dl/t645-1997": "dlt645_1997", "645-1997": "dlt645_1997", "1997": "dlt645_1997",
    "m-bus": "mbus", "glow": "glow_mqtt",
}
KIND_SYNONYMS = {"电": "electricity", "电表": "electricity", "水": "water", "水表": "water",
                 "气": "gas", "燃气表": "gas"}


class Lookups:
    """Everything a file's rows are checked against, loaded once per file."""

    def __init__(self):
        self.sites = {s.code: s for s in Site.objects.all()}
        self.buildings: dict[tuple[int, str], Building] = {
            (b.site_id, b.code): b for b in Building.objects.all()
        }
        self.premises: dict[tuple[int, int | None, str], Premise] = {
            (p.site_id, p.building_id, p.unit): p for p in Premise.objects.all()
        }

    def site(self, row: dict) -> Site:
        code = required(row, "site")
        try:
            return self.sites[code]
        except KeyError:
            raise RowProblem("site", _("unknown site %(s)s") % {"s": code}) from None

    def premise_key(self, site: Site, row: dict) -> tuple[Site, str, str] | None:
        """(site, building code, unit) if the row names a premise."""
        building, unit = row.get("building", ""), row.get("unit", "")
        if not (building or unit):
            return None
        if not unit:
            raise RowProblem("unit", _("unit is missing (a building was given)"))
        return site, building, unit

    def materialise_premises(self, keys, kind: str = Premise.Kind.RESIDENTIAL) -> dict:
        """Create the buildings and premises the file names that do not exist yet."""
        new_buildings = {(s.pk, b): Building(site=s, code=b) for s, b, _u in keys
                         if b and (s.pk, b) not in self.buildings}
        Building.objects.bulk_create(new_buildings.values(), batch_size=BATCH)
        self.buildings.update(new_buildings)
        new_premises = {}
        for site, bcode, unit in keys:
            building = self.buildings.get((site.pk, bcode)) if bcode else None
            key = (site.pk, building.pk if building else None, unit)
            if key not in self.premises and key not in new_premises:
                new_premises[key] = Premise(site=site, building=building, unit=unit, kind=kind)
        Premise.objects.bulk_create(new_premises.values(), batch_size=BATCH)
        self.premises.update(new_premises)
        return {k: self.premises[(k[0].pk, self.buildings[(k[0].pk, k[1])].pk if k[1] else None, k[2])]
                for k in keys}


class Importer:
    """One kind of record. Subclasses say how a row becomes an object and how to write them."""

    kind = ""
    columns: tuple[str, ...] = ()
    aliases: dict[str, str] = {}  # header spellings only this kind understands
    example: dict[str, str] = {}  # one filled-in row for the downloadable template

    def __init__(self):
        self.lookups = Lookups()

    def parse(self, row: dict) -> object:
        raise NotImplementedError

    def write(self, parsed: list, actor) -> int:
        raise NotImplementedError

    def check(self, table: Table, progress: Progress | None = None) -> tuple[list, list[RowError]]:
        parsed, errors = [], []
        for n, (line, row) in enumerate(table.rows, start=1):
            try:
                parsed.append(self.parse(row))
            except RowProblem as problem:
                errors.append(RowError(line, problem.column, problem.message))
            except ValidationError as exc:
                for column, messages in getattr(exc, "message_dict", {"": exc.messages}).items():
                    errors.extend(RowError(line, "" if column == "__all__" else column, m) for m in messages)
            if progress and n % 500 == 0:
                progress(500)
        if progress:
            progress(len(table.rows) % 500)
        return parsed, errors

    def unknown_columns(self, table: Table) -> list[RowError]:
        extra = [h for h in table.header if h not in self.columns]
        return [RowError(1, h, _("unknown column %(c)s; expected some of: %(cols)s")
                         % {"c": h, "cols": ", ".join(self.columns)}) for h in extra]

    @staticmethod
    def once(seen: dict, key, column: str, what: str, line: str) -> None:
        """Refuse a key already seen in this file or in the database."""
        if key in seen:
            where = seen[key]
            if where == "database":
                raise RowProblem(column, _("duplicate %(what)s: already registered") % {"what": what})
            raise RowProblem(column, _("duplicate %(what)s (also on line %(line)s)") % {"what": what, "line": where})
        seen[key] = line


class CollectorImporter(Importer):
    kind = "collectors"
    example = {"code": "DTU-0001", "name": "Building 1", "site": "north", "transport": "dialin_tcp",
               "registration_id": "860000000000001", "model": "DTU-4G"}
    columns = ("code", "name", "site", "transport", "registration_id", "host", "port", "serial_device", "model")

    def __init__(self):
        super().__init__()
        self.codes = dict.fromkeys(Collector.objects.values_list("code", flat=True), "database")
        self.registrations = dict.fromkeys(Collector.objects.values_list("registration_id", flat=True), "database")

    def parse(self, row):
        code = required(row, "code")
        collector = Collector(
            code=code, name=row.get("name", ""), site=self.lookups.site(row),
            transport=choice(row, "transport", Transport, Transport.DIAL_IN_TCP,
                             {"dial-in": "dialin_tcp", "dial-out": "dialout_tcp", "tcp": "dialin_tcp"}),
            registration_id=row.get("registration_id") or code,
            host=row.get("host", ""), port=integer(row, "port", 0, 1, 65535) or None,
            serial_device=row.get("serial_device", ""), model=row.get("model", ""),
        )
        collector.clean_fields(exclude=["site"])
        collector.clean()
        line = row.get("__line__", "")
        self.once(self.codes, code, "code", _("collector id"), line)
        self.once(self.registrations, collector.registration_id, "registration_id", _("registration id"), line)
        return collector

    def write(self, parsed, actor):
        Collector.objects.bulk_create(parsed, batch_size=BATCH)
        audit.record_many(audit.entry("import", c, {"code": [None, c.code]}, actor=actor) for c in parsed)
        return len(parsed)


class MeterImporter(Importer):
    kind = "meters"
    example = {"serial": "E240101000001", "site": "north", "kind": "electricity", "protocol": "dlt645_2007",
               "address": "240101000001", "collector": "DTU-0001", "bus_port": "1", "baud_rate": "2400",
               "phase": "single", "ct_ratio": "1", "pt_ratio": "1", "payment_mode": "prepaid", "switch": "relay",
               "building": "B1", "unit": "101", "installed_on": "2025-01-01"}
    aliases = {"port": "bus_port", "端口": "bus_port"}
    columns = ("serial", "site", "kind", "protocol", "address", "collector", "bus_port", "baud_rate", "phase",
               "ct_ratio", "pt_ratio", "model", "payment_mode", "switch", "password", "operator_code",
               "building", "unit", "installed_on")

    def __init__(self):
        super().__init__()
        self.collectors = {c.code: c for c in Collector.objects.all()}
        self.serials = dict.fromkeys(Meter.objects.values_list("serial", flat=True), "database")
        self.bus_addresses = dict.fromkeys(
            Meter.objects.values_list("collector_id", "bus_port", "protocol", "address"), "database"
        )
        self.installed_meters = set(
            MeterInstallation.objects.filter(valid_to__isnull=True).values_list("meter__serial", flat=True)
        )

    def parse(self, row):
        line = row.get("__line__", "")
        serial = required(row, "serial")
        site = self.lookups.site(row)
        protocol = choice(row, "protocol", Protocol, Protocol.DLT645_2007, PROTOCOL_SYNONYMS)
        try:
            address = addresses.normalise(protocol, row.get("address", ""))
        except ValueError as exc:
            raise RowProblem("address", str(exc)) from None
        collector = None
        if row.get("collector"):
            collector = self.collectors.get(row["collector"])
            if collector is None:
                raise RowProblem("collector", _("unknown collector %(c)s") % {"c": row["collector"]})
            if collector.site_id != site.pk:
                raise RowProblem("collector", _("collector %(c)s belongs to another site") % {"c": collector.code})
        elif protocol != Protocol.GLOW_MQTT:
            raise RowProblem("collector", _("collector is missing (only Glow MQTT meters need none)"))
        bus_port = integer(row, "bus_port", 1, 1, 32)
        meter = Meter(
            serial=serial, site=site, protocol=protocol, address=address, collector=collector, bus_port=bus_port,
            kind=choice(row, "kind", MeterKind, MeterKind.ELECTRICITY, KIND_SYNONYMS),
            baud_rate=integer(row, "baud_rate", 9600 if protocol == Protocol.MBUS else 2400, 300, 9600),
            phase=choice(row, "phase", Meter.Phase, Meter.Phase.SINGLE, {"1": "single", "3": "three"}),
            ct_ratio=decimal(row, "ct_ratio", Decimal(1)), pt_ratio=decimal(row, "pt_ratio", Decimal(1)),
            model=row.get("model", ""),
            payment_mode=choice(row, "payment_mode", Meter.PaymentMode, Meter.PaymentMode.POSTPAID),
            switch=choice(row, "switch", Meter.Switch, Meter.Switch.NONE),
            password=row.get("password", ""), operator_code=row.get("operator_code", ""),
        )
        meter.clean_fields(exclude=["site", "collector", "password", "operator_code"])
        self.once(self.serials, serial, "serial", _("meter number"), line)
        if collector is not None:
            self.once(self.bus_addresses, (collector.pk, bus_port, protocol, address), "address",
                      _("address on collector %(c)s port %(p)s") % {"c": collector.code, "p": bus_port}, line)
        premise_key = self.lookups.premise_key(site, row)
        installed_at = local_midnight(row, "installed_on", site.time_zone) or timezone.now()
        return meter, premise_key, installed_at

    def write(self, parsed, actor):
        keys = {p[1] for p in parsed if p[1]}
        premises = self.lookups.materialise_premises(keys)
        meters = [p[0] for p in parsed]
        Meter.objects.bulk_create(meters, batch_size=BATCH)
        MeterInstallation.objects.bulk_create(
            (MeterInstallation(meter=m, premise=premises[key], valid_from=at, note="import")
             for m, key, at in parsed if key),
            batch_size=BATCH,
        )
        audit.record_many(audit.entry("import", m, {"serial": [None, m.serial], "address": [None, m.address]},
                                      actor=actor) for m in meters)
        return len(meters)


class CustomerImporter(Importer):
    kind = "customers"
    example = {"account_no": "N00001", "name": "王伟", "customer_class": "residential", "phone": "13800000000",
               "language": "zh-hans", "site": "north", "building": "B1", "unit": "101", "move_in": "2025-01-01"}
    columns = ("account_no", "name", "customer_class", "phone", "email", "id_number", "language",
               "site", "building", "unit", "move_in")

    def __init__(self):
        super().__init__()
        self.accounts = dict.fromkeys(Customer.objects.values_list("account_no", flat=True), "database")
        self.occupied = dict.fromkeys(
            Tenancy.objects.filter(valid_to__isnull=True).values_list("premise_id", flat=True), "database"
        )
        self.claimed_units: dict = {}

    def parse(self, row):
        line = row.get("__line__", "")
        account_no = required(row, "account_no")
        customer = Customer(
            account_no=account_no, name=required(row, "name"),
            customer_class=choice(row, "customer_class", Customer.CustomerClass, Customer.CustomerClass.RESIDENTIAL),
            phone=row.get("phone", ""), email=row.get("email", ""), id_number=row.get("id_number", ""),
            language=row.get("language", "") or "zh-hans",
        )
        customer.clean_fields(exclude=["id_number"])
        self.once(self.accounts, account_no, "account_no", _("account number"), line)
        premise_key, moved_in = None, None
        if row.get("building") or row.get("unit"):
            site = self.lookups.site(row)
            premise_key = self.lookups.premise_key(site, row)
            existing = self._existing_premise(premise_key)
            if existing is not None and existing.pk in self.occupied:
                raise RowProblem("unit", _("%(p)s is already occupied") % {"p": existing})
            self.once(self.claimed_units, (site.pk, premise_key[1], premise_key[2]), "unit",
                      _("premise"), line)
            moved_in = local_midnight(row, "move_in", site.time_zone) or timezone.now()
        return customer, premise_key, moved_in

    def _existing_premise(self, key):
        site, bcode, unit = key
        building = self.lookups.buildings.get((site.pk, bcode)) if bcode else None
        if bcode and building is None:
            return None
        return self.lookups.premises.get((site.pk, building.pk if building else None, unit))

    def write(self, parsed, actor):
        premises = self.lookups.materialise_premises({p[1] for p in parsed if p[1]})
        customers = [p[0] for p in parsed]
        Customer.objects.bulk_create(customers, batch_size=BATCH)
        Tenancy.objects.bulk_create(
            (Tenancy(customer=c, premise=premises[key], valid_from=at, note="import")
             for c, key, at in parsed if key),
            batch_size=BATCH,
        )
        audit.record_many(audit.entry("import", c, {"account_no": [None, c.account_no]}, actor=actor)
                          for c in customers)
        return len(customers)


IMPORTERS: dict[str, type[Importer]] = {
    cls.kind: cls for cls in (CollectorImporter, MeterImporter, CustomerImporter)
}


def import_file(kind: str, data: bytes, filename: str, *, dry_run: bool = True, actor=None,
                progress: Progress | None = None, on_rows: Callable[[int], None] | None = None) -> ImportReport:
    """Check a file and, unless dry_run or any row is bad, import all of it in one transaction."""
    report = ImportReport(kind=kind, dry_run=dry_run)
    importer_class = IMPORTERS[kind]
    try:
        table = read_table(data, filename, {**ALIASES, **importer_class.aliases})
    except TableError as exc:
        report.errors.append(RowError(0, "", str(exc)))
        return report
    for line, row in table.rows:
        row["__line__"] = str(line)
    report.rows = len(table.rows)
    if on_rows:
        on_rows(report.rows)
    with transaction.atomic():
        importer = importer_class()
        report.errors.extend(importer.unknown_columns(table))
        parsed, errors = importer.check(table, progress)
        report.errors.extend(errors)
        if report.errors or dry_run:
            return report
        report.created = importer.write(parsed, actor)
        audit.record("import_file", _FileRef(kind, filename), {"rows": [None, report.created]}, actor=actor)
    return report


class _FileRef:
    """Lets an import batch appear in the audit log as one object."""

    audit_type = "import"

    def __init__(self, kind, filename):
        self.kind, self.filename = kind, filename

    def __str__(self):
        return f"{self.kind}: {self.filename}"
