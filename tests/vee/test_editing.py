"""Manual edits and inserts: a reason, a capability, the original kept, the day re-marked."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from meterhub.accounts.models import AuditEntry
from meterhub.readings.ingest import store_readings
from meterhub.readings.models import DirtyDay, Reading
from meterhub.vee import editing, findings
from meterhub.vee.models import Finding, ReadingEdit
from tests.vee.helpers import Q, drain, rec, slot_now

pytestmark = pytest.mark.django_db(transaction=True)


def reading(meter, ts):
    return Reading.objects.get(meter=meter, quantity="energy_import", ts=ts)


def test_an_edit_keeps_the_original_who_when_and_why(meter, make_operator):
    analyst = make_operator("analyst")
    ts = slot_now() - 4 * Q
    store_readings([rec(meter, ts, "123.45", multiplier="40")])
    DirtyDay.objects.all().delete()
    edit = editing.edit_reading(meter, "energy_import", ts, "120.00", "meter photo shows 120.00", analyst)
    row = reading(meter, ts)
    assert (row.raw_value, row.value, row.quality, row.source) == (Decimal(120), Decimal(4800), "edited", "manual")
    edit = ReadingEdit.objects.get(pk=edit.pk)
    assert (edit.old_raw_value, edit.old_value, edit.old_quality, edit.old_source) == (
        Decimal("123.45"), Decimal("4938"), "actual", "scheduled")
    assert (edit.new_raw_value, edit.new_value, edit.user, edit.user_name) == (Decimal(120), Decimal(4800), analyst,
                                                                               analyst.username)
    assert edit.reason == "meter photo shows 120.00" and edit.at is not None
    assert DirtyDay.objects.filter(meter_id=meter.pk, day=ts.date()).exists()  # aggregates follow
    assert AuditEntry.objects.filter(action="edit_reading", actor=analyst).exists()


def test_a_second_edit_keeps_the_first_in_the_history(meter, make_operator):
    user = make_operator("operator")
    ts = slot_now() - 4 * Q
    store_readings([rec(meter, ts, 10)])
    editing.edit_reading(meter, "energy_import", ts, 11, "typo", user)
    editing.edit_reading(meter, "energy_import", ts, 12, "typo again", user)
    trail = list(editing.history(meter, "energy_import", ts).order_by("at", "id")
                 .values_list("old_raw_value", "old_quality", "new_raw_value"))
    assert trail == [(Decimal(10), "actual", Decimal(11)), (Decimal(11), "edited", Decimal(12))]


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_edit_without_a_reason_is_refused_and_changes_nothing(meter, make_operator, reason):
    ts = slot_now() - 4 * Q
    store_readings([rec(meter, ts, 10)])
    with pytest.raises(ValidationError):
        editing.edit_reading(meter, "energy_import", ts, 11, reason, make_operator("operator"))
    assert reading(meter, ts).raw_value == 10 and not ReadingEdit.objects.exists()


@pytest.mark.parametrize("role", ["readonly", "finance", "technician"])
def test_roles_without_the_capability_cannot_edit(meter, make_operator, role):
    ts = slot_now() - 4 * Q
    store_readings([rec(meter, ts, 10)])
    with pytest.raises(PermissionDenied):
        editing.edit_reading(meter, "energy_import", ts, 11, "why not", make_operator(role))
    assert reading(meter, ts).raw_value == 10


def test_a_missing_value_is_inserted_and_later_actual_data_does_not_overwrite_it(meter, make_operator):
    user = make_operator("operator")
    ts = slot_now() - 4 * Q
    editing.insert_reading(meter, "energy_import", ts, "55.5", "read off the display on site", user)
    row = reading(meter, ts)
    assert (row.raw_value, row.quality, row.source, row.unit) == (Decimal("55.5"), "edited", "manual", "kWh")
    assert ReadingEdit.objects.get().old_quality == ""
    with pytest.raises(ValidationError):
        editing.insert_reading(meter, "energy_import", ts, "56", "again", user)


def test_an_estimate_can_be_replaced_by_hand(meter, make_operator):
    ts = slot_now() - 4 * Q
    store_readings([rec(meter, ts, 50, quality="estimated")])
    editing.insert_reading(meter, "energy_import", ts, 51, "customer's own read", make_operator("operator"))
    assert reading(meter, ts).quality == "edited"
    assert ReadingEdit.objects.get().old_quality == "estimated"


def test_bad_values_and_unknown_quantities_are_refused(meter, make_operator):
    user = make_operator("operator")
    ts = slot_now()
    for value, quantity in (("abc", "energy_import"), ("NaN", "energy_import"), ("1e20", "energy_import"),
                            ("1", "no_such_thing")):
        with pytest.raises(ValidationError):
            editing.edit_reading(meter, quantity, ts, value, "test", user)
    assert not Reading.objects.exists()


def test_editing_a_suspect_reading_resolves_its_finding(meter, make_operator):
    end = slot_now() - 2 * Q
    store_readings([rec(meter, end - 2 * Q, 500), rec(meter, end - Q, 400), rec(meter, end, 502)])
    drain()
    assert reading(meter, end - Q).quality == "suspect"
    editing.edit_reading(meter, "energy_import", end - Q, 501, "register misread", make_operator("analyst"))
    drain()
    finding = Finding.objects.get(rule="register_backwards")
    assert finding.status == "resolved"
    assert reading(meter, end - Q).quality == "edited"


def test_accepting_a_finding_restores_the_reading_and_validation_leaves_it(meter, make_operator):
    end = slot_now() - 2 * Q
    store_readings([rec(meter, end - Q, 500), rec(meter, end, 400)])
    drain()
    finding = Finding.objects.get(rule="register_backwards")
    with pytest.raises(ValidationError):
        findings.decide(finding, "accepted", "", make_operator("analyst", username="a2"))
    with pytest.raises(PermissionDenied):
        findings.decide(finding, "accepted", "ok", make_operator("readonly"))
    analyst = make_operator("analyst")
    findings.decide(finding, "accepted", "meter was reset by the vendor", analyst)
    assert reading(meter, end).quality == "actual"
    DirtyDay.objects.create(meter_id=meter.pk, day=end.date())
    drain()
    finding.refresh_from_db()
    assert (finding.status, finding.decided_by, finding.note) == ("accepted", analyst, "meter was reset by the vendor")
    assert reading(meter, end).quality == "actual"


def test_a_finding_resolved_by_a_person_stays_resolved(meter, make_operator):
    end = slot_now() - 2 * Q
    store_readings([rec(meter, end - Q, 500), rec(meter, end, 400)])
    drain()
    finding = Finding.objects.get(rule="register_backwards")
    findings.decide(finding, "resolved", "ticket 42 opened", make_operator("operator"))
    DirtyDay.objects.create(meter_id=meter.pk, day=end.date())
    drain()
    finding.refresh_from_db()
    assert finding.status == "resolved"
    assert reading(meter, end).quality == "suspect"  # resolved is not "the value is right"


def test_a_supplied_value_gets_the_ratio_the_head_end_would_apply(meter, make_operator):
    meter.ct_ratio, meter.pt_ratio = Decimal(50), Decimal(100)
    meter.save()
    user, ts = make_operator("operator"), slot_now() - 4 * Q
    for quantity, raw in (("energy_import", "2"), ("voltage_a", "57.7"), ("current_a", "1.5"), ("power_factor", "0.9")):
        editing.insert_reading(meter, quantity, ts, raw, "site visit", user)
    rows = dict(Reading.objects.filter(meter=meter).values_list("quantity", "value"))
    assert rows == {"energy_import": Decimal(10000), "voltage_a": Decimal(5770), "current_a": Decimal(75),
                    "power_factor": Decimal("0.9")}
