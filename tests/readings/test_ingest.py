"""The readings store: re-delivery harmless, estimates replaced, conflicts and rejects kept."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.headend.records import ReadingRecord
from meterhub.readings.ingest import store_readings
from meterhub.readings.models import DirtyDay, Reading, ReadingConflict, RejectedReading

T0 = datetime(2026, 3, 31, 23, 45, tzinfo=UTC)
pytestmark = pytest.mark.django_db(transaction=True)


def rec(meter_id, minutes=0, value="1.5", quantity="energy_import", quality="actual", multiplier="1"):
    return ReadingRecord(meter_id, quantity, T0 + timedelta(minutes=minutes), Decimal(value), Decimal(multiplier),
                         "kWh", "scheduled", quality)


def test_a_batch_is_stored_with_multiplier_and_days_marked(meter):
    result = store_readings([rec(meter.pk, 0, "10.25", multiplier="40"), rec(meter.pk, 15, "10.5", multiplier="40")])
    assert (result.received, result.stored, result.duplicates, result.conflicts) == (2, 2, 0, 0)
    rows = list(Reading.objects.filter(meter=meter).order_by("ts").values_list("ts", "raw_value", "multiplier", "value"))
    assert rows == [(T0, Decimal("10.25"), 40, Decimal("410")), (T0 + timedelta(minutes=15), Decimal("10.5"), 40,
                                                                   Decimal("420"))]
    # 23:45 on 31 March and 00:00 on 1 April (UTC): two days, two months
    assert set(DirtyDay.objects.values_list("meter_id", "day")) == {(meter.pk, T0.date()),
                                                                    (meter.pk, (T0 + timedelta(days=1)).date())}


def test_redelivery_is_stored_once(meter):
    batch = [rec(meter.pk, i * 15, str(i)) for i in range(4)]
    store_readings(batch)
    again = store_readings(batch + [rec(meter.pk, 60, "4")])
    assert (again.stored, again.duplicates, again.conflicts) == (1, 4, 0)
    assert Reading.objects.count() == 5
    assert not ReadingConflict.objects.exists()


def test_a_different_value_for_a_stored_instant_keeps_the_first_and_records_the_conflict(meter):
    store_readings([rec(meter.pk, 0, "100")])
    result = store_readings([rec(meter.pk, 0, "105")])
    store_readings([rec(meter.pk, 0, "105")])  # the same conflicting value again: one conflict record
    assert (result.stored, result.conflicts) == (0, 1)
    assert Reading.objects.get().value == Decimal("100")
    conflict = ReadingConflict.objects.get()
    assert (conflict.stored_value, conflict.other_value) == (Decimal("100"), Decimal("105"))


def test_two_values_for_one_instant_in_one_batch(meter):
    result = store_readings([rec(meter.pk, 0, "7"), rec(meter.pk, 0, "8")])
    assert (result.stored, result.conflicts) == (1, 1)
    assert Reading.objects.get().value == Decimal("7")


def test_an_estimate_is_replaced_by_the_actual_value_but_never_the_reverse(meter):
    store_readings([rec(meter.pk, 0, "50", quality="estimated")])
    store_readings([rec(meter.pk, 0, "51")])
    reading = Reading.objects.get()
    assert (reading.value, reading.quality) == (Decimal("51"), "actual")
    result = store_readings([rec(meter.pk, 0, "52", quality="estimated")])
    assert result.stored == 0
    assert Reading.objects.get().value == Decimal("51")
    assert not ReadingConflict.objects.exists()  # an estimate against an actual is not a conflict


def test_bad_records_are_rejected_with_their_reason_and_the_rest_stored(meter):
    bad = [
        ReadingRecord(999999, "energy_import", T0, Decimal(1), Decimal(1), "kWh", "scheduled"),
        ReadingRecord(meter.pk, "energy_import", T0.replace(tzinfo=None), Decimal(1), Decimal(1), "kWh", "scheduled"),
        ReadingRecord(meter.pk, "energy_import", T0, Decimal("NaN"), Decimal(1), "kWh", "scheduled"),
        ReadingRecord(meter.pk, "energy_import", T0, Decimal("1e15"), Decimal(1), "kWh", "scheduled"),
        ReadingRecord(meter.pk, "x" * 41, T0, Decimal(1), Decimal(1), "kWh", "scheduled"),
        ReadingRecord(meter.pk, "energy_import", T0, "12,5", Decimal(1), "kWh", "scheduled"),
        ReadingRecord(meter.pk, "energy_import", T0, Decimal(1), Decimal(1), "kWh", "carrier-pigeon"),
        ReadingRecord(meter.pk, "energy\timport", T0, Decimal(1), Decimal(1), "kWh", "scheduled"),
        ReadingRecord(meter.pk, "energy_import", T0, Decimal(1), Decimal(1), "k\\Wh", "scheduled"),
    ]
    result = store_readings(bad + [rec(meter.pk, 0, "3")])
    assert result.stored == 1 and len(result.rejected) == len(bad)
    reasons = sorted(RejectedReading.objects.values_list("reason", flat=True))
    assert reasons == sorted(["unknown meter", "timestamp is not a time-zone-aware datetime", "value or multiplier is not a finite number",
                           "value too large for the readings table", "quantity name must be 1-40 printable characters without tabs or backslashes",
                           "value is not a decimal number", "unknown source 'carrier-pigeon'",
                           "quantity name must be 1-40 printable characters without tabs or backslashes",
                           "unit must be up to 12 characters without tabs, newlines or backslashes"])
    assert RejectedReading.objects.filter(meter_ref="999999").exists()


def test_values_that_cannot_be_compared_or_hashed_are_rejected_not_raised(meter):
    """A signalling NaN cannot be hashed, a NaN meter id cannot be sorted, a huge exponent
    overflows when multiplied, a list is not a name: each is one rejected record."""
    def record(**odd):
        fields = {"meter_id": meter.pk, "quantity": "energy_import", "ts": T0, "raw_value": Decimal(1),
                  "multiplier": Decimal(1), "unit": "kWh", "source": "scheduled"}
        return ReadingRecord(**{**fields, **odd})

    bad = [record(multiplier=Decimal("sNaN")), record(meter_id=Decimal("NaN")), record(meter_id=Decimal("sNaN")),
           record(raw_value=Decimal("1E+999999"), multiplier=Decimal(10)), record(quantity=["energy_import"]),
           record(unit=["kWh"]), record(source=["scheduled"])]
    good = [rec(meter.pk, 15 * i, str(i)) for i in range(3)]
    result = store_readings([*good[:1], *bad, *good[1:]])
    assert result.stored == 3 and len(result.rejected) == len(bad)
    assert RejectedReading.objects.count() == len(bad)


def test_the_second_of_two_equal_local_times_is_stored_an_hour_later(meter):
    """Clocks go back in Berlin on 2024-10-27: 02:30 happens twice (fold 0 and 1). The two
    compare equal in Python; they are stored as the two UTC instants they are."""
    autumn = datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    first, second = (ReadingRecord(meter.pk, "energy_import", ts, Decimal(v), Decimal(1), "kWh", "scheduled")
                     for ts, v in ((autumn, 1), (autumn.replace(fold=1), 2)))
    store_readings([first, second] * 600)  # over a slice, so the second slice repeats both
    stored = list(Reading.objects.filter(meter=meter).order_by("ts").values_list("ts", "value"))
    assert stored == [(datetime(2024, 10, 27, 0, 30, tzinfo=UTC), 1), (datetime(2024, 10, 27, 1, 30, tzinfo=UTC), 2)]


def test_times_in_other_zones_are_stored_in_utc(meter):
    beijing = timezone(timedelta(hours=8))
    store_readings([ReadingRecord(meter.pk, "energy_import", datetime(2026, 4, 1, 8, 0, tzinfo=beijing), Decimal(1),
                                  Decimal(1), "kWh", "scheduled")])
    store_readings([rec(meter.pk, 15, "1")])  # the same instant in UTC
    assert Reading.objects.count() == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deliveries=st.lists(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 3)), max_size=12), max_size=5))
def test_any_sequence_of_deliveries_stores_each_instant_once_with_its_first_value(meter, deliveries):
    Reading.objects.all().delete()
    ReadingConflict.objects.all().delete()
    first: dict[int, int] = {}
    for batch in deliveries:
        for slot, value in batch:
            first.setdefault(slot, value)
        store_readings([rec(meter.pk, slot * 15, str(value)) for slot, value in batch])
    stored = {int((ts - T0).total_seconds()) // 900: int(v) for ts, v in Reading.objects.values_list("ts", "value")}
    assert stored == first


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.decimals(min_value=Decimal("-99999999.999999"), max_value=Decimal("99999999.999999"),
                                   places=6, allow_nan=False, allow_infinity=False), min_size=1, max_size=20),
       offset_minutes=st.integers(-14 * 60, 14 * 60))
def test_values_and_instants_round_trip_exactly(meter, values, offset_minutes):
    Reading.objects.all().delete()
    zone = timezone(timedelta(minutes=offset_minutes))
    start = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=zone)
    store_readings([ReadingRecord(meter.pk, "power_active", start + timedelta(seconds=i), v, Decimal(1), "kW",
                                  "on_demand") for i, v in enumerate(values)])
    stored = list(Reading.objects.order_by("ts").values_list("ts", "value"))
    assert stored == [(start + timedelta(seconds=i), v) for i, v in enumerate(values)]


def test_a_stored_key_deep_in_a_large_batch_still_stores_everything_else_once(meter, other_meter):
    """The write streams the batch in slices: a stored key met after the first slices were
    sent sends the whole batch down the exact path, and what came after it is still checked."""
    from meterhub.readings import ingest

    first, later = sorted([meter, other_meter], key=lambda m: m.pk)  # the batch is written in meter order
    size = ingest.COPY_SLICE * 2
    deep = T0 + timedelta(minutes=15 * (size - 3))
    store_readings([rec(later.pk, 15 * (size - 3), "999")])  # stored before, in a later slice of the batch
    batch = [rec(m.pk, 15 * i, str(i)) for m in (first, later) for i in range(size)]
    batch.append(ReadingRecord(later.pk, "energy_import", T0, "5,5", Decimal(1), "kWh", "scheduled"))
    batch.append(rec(later.pk, 15 * (size - 1), "-1"))  # the same key again in this batch, another value
    result = store_readings(batch)
    assert result.received == 2 * size + 2
    assert len(result.rejected) == 1 and result.rejected[0][1] == "value is not a decimal number"
    assert result.stored == 2 * size - 1  # the stored key is kept as it was
    assert result.conflicts == 2  # 999 stored vs the batch's value, and the in-batch pair
    assert Reading.objects.count() == 2 * size
    assert Reading.objects.get(meter=later, ts=deep).value == Decimal(999)
    assert Reading.objects.get(meter=later, ts=T0 + timedelta(minutes=15 * (size - 1))).value == size - 1


def test_a_key_twice_far_apart_among_unsortable_meter_ids_is_stored_once(meter):
    """NaN meter ids do not sort: the batch is ordered by a total order all the same, so a
    meter's records stay together and its repeated key is found, however far apart."""
    from meterhub.readings import ingest

    batch = [rec(meter.pk, 15 * i, str(i)) for i in range(ingest.COPY_SLICE * 2)]
    nan = ReadingRecord(float("nan"), "energy_import", T0, Decimal(1), Decimal(1), "kWh", "scheduled")
    batch[::50] = [nan] * len(batch[::50])
    batch += [rec(meter.pk, 15, "-1"), rec(meter.pk, 30, "2")]  # 15: another value; 30: the same again
    result = store_readings(batch)
    kept = ingest.COPY_SLICE * 2 - len(batch[:-2:50])
    assert (result.stored, result.conflicts, len(result.rejected)) == (kept, 1, len(batch[:-2:50]))
    assert Reading.objects.count() == kept and Reading.objects.get(ts=T0 + timedelta(minutes=15)).value == 1
    conflict = ReadingConflict.objects.get()
    assert (conflict.stored_value, conflict.other_value) == (Decimal(1), Decimal(-1))


def test_a_batch_is_written_in_meter_order_whatever_order_it_came_in(meter, other_meter, monkeypatch):
    """Reads finish bus by bus, interleaved; the write goes meter by meter (each meter's own
    order kept), so the key's pages are met in order."""
    from meterhub.readings import ingest

    written = []
    real = ingest._bulk_insert

    def recording(table, slices, using):
        written.extend(row for part in slices for row in part)
        real(table, [written], using)

    monkeypatch.setattr(ingest, "_bulk_insert", recording)
    store_readings([rec(other_meter.pk, 15), rec(meter.pk, 30), rec(other_meter.pk, 0), rec(meter.pk, 0)])
    first, second = sorted([meter.pk, other_meter.pk])
    expected = {meter.pk: [30, 0], other_meter.pk: [15, 0]}
    assert [(row[0], row[2]) for row in written] == [
        (m, T0 + timedelta(minutes=minutes)) for m in (first, second) for minutes in expected[m]]
    assert Reading.objects.count() == 4
