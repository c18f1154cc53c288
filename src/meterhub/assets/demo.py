"""The demo site: a residential compound with electricity, water and gas meters.

Built through the same importer operators use, so the demo exercises the real path.
Idempotent: loading it twice changes nothing.
"""

from __future__ import annotations

import csv
import io

from django.db import transaction

from meterhub.assets.importing import import_file
from meterhub.assets.models import Site

SITE_CODE = "sunrise"
BUILDINGS = 6
UNITS_PER_BUILDING = 20  # floors 1-10, two flats each
WATER_PER_BUILDING = 6


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def units():
    for b in range(1, BUILDINGS + 1):
        for floor in range(1, UNITS_PER_BUILDING // 2 + 1):
            for flat in (1, 2):
                yield f"B{b}", f"{floor}{flat:02d}"


def demo_address(building: int, index: int) -> str:
    """A DL/T 645 address: 12 BCD digits, as printed on the nameplate."""
    return f"2401{building:02d}{index:06d}"


def collectors() -> list[dict]:
    rows = []
    for b in range(1, BUILDINGS + 1):
        rows.append({"code": f"DTU-B{b}", "name": f"Building {b} electricity", "site": SITE_CODE,
                     "transport": "dialin_tcp", "registration_id": f"86{b:013d}", "model": "DTU-4G"})
    rows.append({"code": "MBUS-1", "name": "Water meters", "site": SITE_CODE, "transport": "dialin_tcp",
                 "registration_id": "860000000000099", "model": "M-Bus master"})
    return rows


def meters() -> list[dict]:
    rows = []
    for n, (building, unit) in enumerate(units()):
        b = int(building[1:])
        index = n % UNITS_PER_BUILDING
        rows.append({
            "serial": f"E{demo_address(b, index)}", "site": SITE_CODE, "kind": "electricity",
            "protocol": "dlt645_1997" if index == UNITS_PER_BUILDING - 1 else "dlt645_2007",
            "address": demo_address(b, index), "collector": f"DTU-B{b}", "bus_port": 1 + index // 10,
            "phase": "single", "payment_mode": "prepaid" if index % 3 else "postpaid", "switch": "relay",
            "password": "02123456", "operator_code": "00000001", "building": building, "unit": unit,
            "installed_on": "2024-03-01",
        })
        if index < WATER_PER_BUILDING:
            rows.append({
                "serial": f"W{b}{index:07d}", "site": SITE_CODE, "kind": "water", "protocol": "mbus",
                "address": f"{b:02d}{index:06d}", "collector": "MBUS-1", "bus_port": 1, "phase": "single",
                "payment_mode": "postpaid", "switch": "valve", "password": "", "operator_code": "",
                "building": building, "unit": unit, "installed_on": "2024-03-01",
            })
    # Three-phase shop meter behind CTs: the multiplier matters for billing.
    rows.append({"serial": "E240199000001", "site": SITE_CODE, "kind": "electricity", "protocol": "dlt645_2007",
                 "address": "240199000001", "collector": "DTU-B1", "bus_port": 3, "phase": "three",
                 "ct_ratio": "50", "pt_ratio": "1", "payment_mode": "postpaid", "switch": "relay",
                 "password": "02123456", "operator_code": "00000001", "building": "B1", "unit": "shop-1",
                 "installed_on": "2024-03-01"})
    return rows


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英"]


def customers() -> list[dict]:
    rows = []
    for n, (building, unit) in enumerate(units()):
        if n % 12 == 11:
            continue  # some flats stand empty
        rows.append({
            "account_no": f"SR{n + 1:05d}", "name": SURNAMES[n % len(SURNAMES)] + GIVEN[n % len(GIVEN)],
            "customer_class": "residential", "phone": f"1380000{n:04d}", "email": "",
            "language": "zh-hans", "site": SITE_CODE, "building": building, "unit": unit,
            "move_in": "2024-03-01",
        })
    return rows


@transaction.atomic
def load_demo_site() -> bool:
    """Create the demo site unless it exists. Returns True if it was created."""
    if Site.objects.filter(code=SITE_CODE).exists():
        return False
    Site.objects.create(code=SITE_CODE, name="阳光花园 Sunrise Garden", time_zone="Asia/Shanghai",
                        currency="CNY", address="1 Demo Road")
    for kind, rows in (("collectors", collectors()), ("meters", meters()), ("customers", customers())):
        report = import_file(kind, _csv(rows), f"demo-{kind}.csv", dry_run=False)
        if not report.ok:
            raise RuntimeError(f"demo {kind} did not import: {report.errors[:3]}")
    return True
