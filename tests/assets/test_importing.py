"""Bulk onboarding: every bad row named with its line, nothing imported until the file is clean."""

import io

import pytest
from openpyxl import Workbook

from meterhub.accounts.models import AuditEntry
from meterhub.assets.importing import import_file
from meterhub.assets.models import Collector, Customer, Meter, MeterInstallation, Premise, Tenancy


def csv_bytes(text: str, encoding="utf-8") -> bytes:
    return text.strip().replace("\n        ", "\n").encode(encoding) + b"\n"


def xlsx_bytes(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD_METERS = """
        serial,site,address,collector,bus_port,kind,protocol,ct_ratio,building,unit,installed_on,password
        E001,north,240101000001,DTU-1,1,electricity,dlt645_2007,1,B1,101,2025-01-01,00123456
        E002,north,240101000002,DTU-1,1,electricity,DL/T 645-1997,50,B1,102,2025-01-01,
        W001,north,00000001,DTU-1,2,water,M-Bus,,B1,101,2025-01-01,
"""


def test_clean_meter_file_imports_with_premises_history_and_audit(collector):
    report = import_file("meters", csv_bytes(GOOD_METERS), "meters.csv", dry_run=False)
    assert report.ok, report.errors
    assert report.created == Meter.objects.count() == 3
    e2 = Meter.objects.get(serial="E002")
    assert (e2.protocol, e2.ct_ratio, e2.multiplier) == ("dlt645_1997", 50, 50)
    assert Meter.objects.get(serial="E001").password == "00123456"
    assert Premise.objects.count() == 2  # B1-101 shared by an electricity and a water meter
    inst = MeterInstallation.objects.get(meter__serial="E001")
    # 2025-01-01 00:00 in Asia/Shanghai is 2024-12-31 16:00 UTC
    assert inst.valid_from.isoformat() == "2024-12-31T16:00:00+00:00"
    assert AuditEntry.objects.filter(action="import", object_type="meter").count() == 3
    assert AuditEntry.objects.filter(action="import_file").count() == 1


def test_dry_run_checks_but_writes_nothing(collector):
    report = import_file("meters", csv_bytes(GOOD_METERS), "meters.csv", dry_run=True)
    assert report.ok and report.rows == 3 and report.created == 0
    assert Meter.objects.count() == 0 and Premise.objects.count() == 0


BAD_METERS = """
        serial,site,address,collector,bus_port
        E001,north,240101000001,DTU-1,1
        E002,north,24010100000X,DTU-1,1
        E003,north,240101000001,DTU-1,1
        E004,north,240101000004,DTU-9,1
        ,north,240101000005,DTU-1,1
        E006,atlantis,240101000006,DTU-1,1
        E001,north,240101000007,DTU-1,1
        E008,north,240101000008,DTU-1,99
"""


def test_every_bad_row_is_listed_with_line_and_reason_and_nothing_is_imported(collector):
    report = import_file("meters", csv_bytes(BAD_METERS), "meters.csv", dry_run=False)
    found = {(e.line, e.column): e.message for e in report.errors}
    assert set(found) == {(3, "address"), (4, "address"), (5, "collector"), (6, "serial"), (7, "site"),
                          (8, "serial"), (9, "bus_port")}
    assert "bad BCD address" in found[(3, "address")]
    assert "duplicate address" in found[(4, "address")] and "line 2" in found[(4, "address")]
    assert "unknown collector DTU-9" in found[(5, "collector")]
    assert "missing" in found[(6, "serial")]
    assert "unknown site atlantis" in found[(7, "site")]
    assert "duplicate meter number" in found[(8, "serial")]
    assert Meter.objects.count() == 0


def test_duplicates_against_the_database_are_caught(collector):
    assert import_file("meters", csv_bytes(GOOD_METERS), "m.csv", dry_run=False).ok
    report = import_file("meters", csv_bytes(GOOD_METERS), "m.csv", dry_run=False)
    assert [e.line for e in report.errors] == [2, 3, 4]
    assert all("already registered" in e.message for e in report.errors)
    assert Meter.objects.count() == 3


def test_unknown_column_and_unreadable_file_are_reported(collector):
    report = import_file("meters", csv_bytes("serial,site,adress\nE1,north,1"), "m.csv")
    assert any(e.line == 1 and e.column == "adress" for e in report.errors)
    report = import_file("meters", b"\x00\x01 not a workbook", "m.xlsx")
    assert report.errors and report.errors[0].line == 0 and "Excel" in report.errors[0].message
    report = import_file("meters", b"a,b", "m.pdf")
    assert ".csv or .xlsx" in report.errors[0].message


def test_excel_file_with_numbers_dates_and_chinese_headers(collector):
    from datetime import datetime

    data = xlsx_bytes([
        ["表号", "site", "表地址", "采集器", "bus_port", "installed_on", "building", "房号"],
        ["E100", "north", 240101000100, "DTU-1", 1, datetime(2025, 2, 1), "B2", 201],
        ["E101", "north", 1, "DTU-1", 1.0, None, "B2", "202"],  # leading zeros dropped by Excel
    ])
    report = import_file("meters", data, "meters.xlsx", dry_run=False)
    assert report.ok, report.errors
    assert set(Meter.objects.values_list("address", flat=True)) == {"240101000100", "000000000001"}
    assert set(Premise.objects.values_list("unit", flat=True)) == {"201", "202"}


def test_gb18030_csv_from_chinese_excel(site):
    text = "account_no,name,site,building,unit,move_in\nC1,王伟,north,B1,101,2025-01-01\n"
    report = import_file("customers", text.encode("gb18030"), "customers.csv", dry_run=False)
    assert report.ok, report.errors
    assert Customer.objects.get().name == "王伟"
    assert Tenancy.objects.get().premise.unit == "101"


def test_customers_cannot_claim_an_occupied_or_doubly_listed_flat(site):
    assert import_file("customers", csv_bytes("account_no,name,site,building,unit\nC1,A,north,B1,101"),
                       "c.csv", dry_run=False).ok
    report = import_file("customers", csv_bytes("""
        account_no,name,site,building,unit
        C2,B,north,B1,101
        C3,C,north,B1,102
        C4,D,north,B1,102
    """), "c.csv", dry_run=False)
    assert [(e.line, e.column) for e in report.errors] == [(2, "unit"), (4, "unit")]
    assert "occupied" in report.errors[0].message


def test_collectors_need_a_host_for_dial_out_and_unique_registration(site):
    report = import_file("collectors", csv_bytes("""
        code,site,transport,registration_id,host,port
        C1,north,dialin_tcp,R1,,
        C2,north,dialout_tcp,R2,,
        C3,north,dialin_tcp,R1,,
        C4,north,carrier-pigeon,R4,,
    """), "c.csv", dry_run=False)
    assert [(e.line, e.column) for e in report.errors] == [(3, ""), (4, "registration_id"), (5, "transport")]
    assert "host and a port" in report.errors[0].message
    assert Collector.objects.count() == 0


def test_many_meters_import_in_one_transaction(collector):
    rows = ["serial,site,address,collector,bus_port,building,unit"]
    rows += [f"E{i:05d},north,{i:012d},DTU-1,{1 + i % 4},B{i % 10},{i}" for i in range(2000)]
    report = import_file("meters", "\n".join(rows).encode(), "many.csv", dry_run=False)
    assert report.ok and report.created == 2000
    assert MeterInstallation.objects.count() == 2000
    assert Meter.objects.filter(address="000000001999", bus_port=4).exists()


@pytest.mark.parametrize("kind", ["collectors", "meters", "customers"])
def test_empty_file_is_an_error_not_a_crash(db, kind):
    report = import_file(kind, b"", "empty.csv")
    assert not report.ok and "empty" in report.errors[0].message
