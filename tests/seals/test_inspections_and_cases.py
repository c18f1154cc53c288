"""Inspections compare what the technician found with the records; mismatches open cases;
cases are assigned, annotated and closed with an outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from meterhub.alarms.services import raise_alarm
from meterhub.readings.models import Reading
from meterhub.seals import custody, inspections, investigations
from meterhub.seals.custody import Where
from meterhub.seals.inspections import Found
from meterhub.seals.models import Case, CaseEntry, Seal, SealState


@pytest.fixture
def sealed_meter(batch, tech, storekeeper, meter):
    custody.issue(["S000001", "S000002"], tech, Where(storekeeper))
    a = custody.install("S000001", Where(tech), meter=meter, position="meter_cover")
    b = custody.install("S000002", Where(tech), meter=meter, position="terminal_cover")
    return meter, a, b


def test_all_intact_opens_no_case(sealed_meter, tech):
    meter, a, b = sealed_meter
    inspection, case = inspections.record(meter, tech, [Found("meter_cover", code=a.code),
                                                       Found("terminal_cover", seal_serial="S000002")])
    assert case is None
    assert [(f.position, f.condition, f.verdict) for f in inspection.findings.order_by("position")] == [
        ("meter_cover", "intact", "valid"), ("terminal_cover", "intact", "")]
    assert inspection.findings.get(position="meter_cover").seal_serial == "S000001", "taken from the code"


def test_a_seal_left_out_is_missing_and_opens_a_case_with_evidence(sealed_meter, tech):
    meter, a, _b = sealed_meter
    Reading.objects.create(meter=meter, quantity="energy_import", ts=datetime.now(UTC) - timedelta(hours=2),
                           value=Decimal("10"), raw_value=Decimal("10"), unit="kWh", source="scheduled")
    inspection, case = inspections.record(meter, tech, [Found("meter_cover", code=a.code)])
    assert inspection.findings.get(position="terminal_cover").condition == "missing"
    assert case is not None and case.inspection == inspection and "missing" in case.title
    kinds = {e.text: e.data for e in case.entries.filter(kind="evidence")}
    assert len(kinds["readings"]["readings"]) == 1
    assert [e["seal"] for e in kinds["seal_history"]["events"]] == ["S000001", "S000002"]
    assert {f["condition"] for f in kinds["findings"]["findings"]} == {"intact", "missing"}


def test_a_code_of_another_meter_is_a_mismatch(sealed_meter, tech, site, collector):
    from meterhub.assets.models import Meter

    meter, a, b = sealed_meter
    other = Meter.objects.create(serial="E9", site=site, address="000000000009", collector=collector)
    inspection, case = inspections.record(other, tech, [Found("meter_cover", code=a.code)])
    finding = inspection.findings.get()
    assert (finding.condition, finding.verdict) == ("mismatch", "other_meter") and case is not None


def test_a_forged_code_is_a_mismatch(sealed_meter, tech):
    meter, a, b = sealed_meter
    forged = a.code[:-3] + ("AAA" if not a.code.endswith("AAA") else "BBB")
    inspection, case = inspections.record(meter, tech, [Found("meter_cover", code=forged),
                                                       Found("terminal_cover", seal_serial="S000002")])
    assert inspection.findings.get(position="meter_cover").verdict == "not_genuine"
    assert case is not None


def test_an_unknown_seal_is_foreign_and_registered(sealed_meter, tech):
    meter, a, b = sealed_meter
    inspection, case = inspections.record(meter, tech, [Found("meter_cover", seal_serial="ZZ-1"),
                                                       Found("terminal_cover", seal_serial="S000002")])
    assert inspection.findings.get(position="meter_cover").condition == "foreign"
    assert Seal.objects.get(serial="ZZ-1").state == SealState.FOREIGN
    assert case is not None and "foreign" in case.title


def test_a_broken_seal_opens_a_case(sealed_meter, tech):
    meter, a, b = sealed_meter
    _inspection, case = inspections.record(meter, tech, [Found("meter_cover", "broken", "S000001"),
                                                        Found("terminal_cover", seal_serial="S000002")])
    assert case is not None and "broken" in case.title


def test_case_from_an_alarm_is_opened_once(sealed_meter, storekeeper):
    meter, *_ = sealed_meter
    alarm, _ = raise_alarm("seal_open", datetime.now(UTC), meter=meter)
    case = investigations.open_from_alarm(alarm, storekeeper)
    assert investigations.open_from_alarm(alarm, storekeeper) == case
    assert case.entries.get(text="alarm").data["kind"] == "seal_open"


def test_case_lifecycle_and_refusals(sealed_meter, storekeeper, tech):
    meter, *_ = sealed_meter
    case = investigations.open_case(meter, "check", storekeeper)
    investigations.assign(case, tech, storekeeper)
    case.refresh_from_db()
    assert (case.status, case.assignee) == ("investigating", tech)
    with pytest.raises(ValidationError, match="note or attach"):
        investigations.add_note(case, tech, "  ")
    investigations.add_note(case, tech, "bypass cable found behind the meter")
    with pytest.raises(ValidationError, match="estimated unbilled energy"):
        investigations.close(case, storekeeper, "theft")
    investigations.close(case, storekeeper, "theft", unbilled_kwh=Decimal("312.5"), note="billed")
    case.refresh_from_db()
    assert (case.status, case.outcome, case.unbilled_kwh) == ("closed", "theft", Decimal("312.5"))
    with pytest.raises(ValidationError, match="closed"):
        investigations.add_note(case, tech, "late")
    with pytest.raises(ValidationError, match="closed"):
        investigations.close(case, storekeeper, "false_alarm")
    with pytest.raises(ValueError, match="append-only"):
        CaseEntry.objects.first().save()
    assert Case.objects.get().entries.filter(kind="status").count() == 3


def test_unbilled_energy_estimate_from_readings(meter):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    for day, kwh in ((0, 100), (30, 400), (40, 410)):  # 10 kWh a day, then only 10 kWh in 10 days
        Reading.objects.create(meter=meter, quantity="energy_import", ts=t0 + timedelta(days=day),
                               value=Decimal(kwh), raw_value=Decimal(kwh), unit="kWh", source="scheduled")
    estimate = investigations.estimate_unbilled(meter, t0 + timedelta(days=30), t0 + timedelta(days=40))
    assert estimate["ok"] and estimate["per_day"] == Decimal("10.00")
    assert (estimate["expected"], estimate["recorded"], estimate["unbilled"]) == (
        Decimal("100.00"), Decimal("10.00"), Decimal("90.00"))
    assert not investigations.estimate_unbilled(meter, t0, t0 + timedelta(days=1))["ok"]
