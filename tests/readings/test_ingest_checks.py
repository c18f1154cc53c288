"""The column-at-a-time check of a slice (ingest._plain_rows) against the record-by-record
check (ingest._row): for any slice, it either gives exactly the rows the per-record check
gives, or hands the slice back to it. No database: these are the checks alone."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from meterhub.headend.records import ReadingRecord
from meterhub.readings import ingest

T0 = datetime(2026, 3, 31, 23, 45, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
BERLIN = ZoneInfo("Europe/Berlin")
AUTUMN = datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN)  # twice that night: fold 0 and fold 1


class LaterDatetime(datetime):  # a subclass, as pandas.Timestamp is
    pass


# Each field: values the column check must take, then values that need the per-record
# check (it refuses them, or converts them, or tells apart what compares equal).
FIELDS = {
    "meter_id": ([1, 2, 3, 4], [True, "2", 2.0, Decimal("NaN"), Decimal("sNaN"), [1]]),
    "quantity": (["energy_import", "power_active"], ["bad\tname", "x" * 41, 7, "", ["energy_import"]]),
    "ts": ([T0 + timedelta(minutes=15 * n) for n in range(4)] + [AUTUMN.astimezone(UTC)],
           [datetime(2026, 4, 1), "2026-04-01T00:00:00+00:00", T0.astimezone(BEIJING), AUTUMN,
            AUTUMN.replace(fold=1), LaterDatetime(2026, 3, 31, 23, 45, tzinfo=UTC),
            T0.replace(tzinfo=ZoneInfo("UTC"))]),
    "raw_value": ([Decimal("0"), Decimal("-1.5"), Decimal("999999999999.999"), Decimal("1e-3")],
                  [Decimal("99999999999999.999"), Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-1e14"), Decimal("1e14"),
                   Decimal("1E+999999"), 5, 1.5]),
    "multiplier": ([Decimal(1), Decimal("1.0"), Decimal(40), Decimal("0.5")],
                   [Decimal("NaN"), Decimal("sNaN"), Decimal("1e8"), Decimal("1e13"), 1, True, 1.0]),
    "unit": (["kWh", "", "m3"], ["energy_import", "tab\tunit", ["kWh"]]),
    "source": (["scheduled", "mqtt"], ["carrier-pigeon", ["mqtt"]]),
    "quality": (["actual", "estimated"], ["guessed", ["actual"]]),
}


@st.composite
def records(draw, odd: bool):
    """A record; with `odd`, one of its fields takes a value from the second list."""
    fields = {name: draw(st.sampled_from(good)) for name, (good, _bad) in FIELDS.items()}
    if odd:
        name = draw(st.sampled_from(sorted(FIELDS)))
        fields[name] = draw(st.sampled_from(FIELDS[name][1]))
    if odd and draw(st.booleans()) and draw(st.booleans()):  # same fields, not a ReadingRecord
        return SimpleNamespace(**fields)
    return ReadingRecord(**fields)


@st.composite
def slices(draw):
    part = draw(st.lists(records(odd=False), min_size=1, max_size=10))
    odd = draw(st.booleans())
    if odd:
        part.insert(draw(st.integers(0, len(part))), draw(records(odd=True)))
    return part, odd


def per_record(part):
    """What the per-record check makes of a slice: its rows, or None if it refuses one."""
    rows = []
    for r in part:
        try:
            rows.append(ingest._row(r))
        except ingest.Rejected:
            return None
    return rows


def see_the_names():
    for name, unit in (("energy_import", "kWh"), ("power_active", "m3")):
        ingest._row(ReadingRecord(1, name, T0, Decimal(1), Decimal(1), unit, "scheduled"))


@settings(max_examples=600, deadline=None)
@given(drawn=slices())
def test_the_slice_check_gives_the_per_record_rows_or_hands_the_slice_back(drawn):
    part, odd = drawn
    see_the_names()
    plain = ingest._plain_rows(part)
    if not odd:
        assert plain is not None, "a slice of good records is checked a column at a time"
    if plain is not None:
        expected = per_record(part)
        assert plain == expected
        assert [[(type(v), getattr(v, "tzinfo", None), getattr(v, "fold", None)) for v in row] for row in plain] \
            == [[(type(v), getattr(v, "tzinfo", None), getattr(v, "fold", None)) for v in row] for row in expected]


def test_equal_instants_that_are_not_the_same_go_the_per_record_way():
    """A fold and a subclass compare equal to a plain UTC instant; only the per-record
    check tells them apart (the fold is an hour later; the subclass is refused)."""
    see_the_names()
    plain = ReadingRecord(1, "energy_import", AUTUMN.astimezone(UTC), Decimal(1), Decimal(1), "kWh", "scheduled")
    for odd in (AUTUMN, AUTUMN.replace(fold=1), LaterDatetime(2024, 10, 27, 0, 30, tzinfo=UTC)):
        record = ReadingRecord(2, "energy_import", odd, Decimal(1), Decimal(1), "kWh", "scheduled")
        assert ingest._plain_rows([plain, record]) is None
    assert ingest._row(ReadingRecord(2, "energy_import", AUTUMN.replace(fold=1), Decimal(1), Decimal(1), "kWh",
                                     "scheduled"))[2] == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)


@settings(max_examples=100, deadline=None)
@given(part=st.lists(st.builds(ReadingRecord, st.sampled_from([1, 2, 3]), st.sampled_from(["energy_import"]),
                               st.sampled_from(FIELDS["ts"][0]),
                               st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2),
                               st.sampled_from([Decimal(1), Decimal(40)]), st.just("kWh"), st.just("scheduled")),
                     min_size=1, max_size=12))
def test_a_slice_of_good_records_is_checked_a_column_at_a_time(part):
    ingest._row(part[0])  # names are known once a record carrying them has been checked
    plain = ingest._plain_rows(part)
    assert plain is not None and plain == per_record(part)
    assert all(row[2].tzinfo is UTC for row in plain)


def test_a_bad_record_anywhere_hands_the_slice_back():
    good = [ReadingRecord(1, "energy_import", T0, Decimal(i), Decimal(1), "kWh", "scheduled") for i in range(5)]
    ingest._row(good[0])
    assert ingest._plain_rows(good) is not None
    for bad in (ReadingRecord(1, "energy_import", T0, Decimal("NaN"), Decimal(1), "kWh", "scheduled"),
                ReadingRecord(1, "energy_import", T0, Decimal(1), Decimal("sNaN"), "kWh", "scheduled"),
                ReadingRecord(1, "energy_import", T0, Decimal(1), 1, "kWh", "scheduled"),
                ReadingRecord(1, "energy_import", T0, Decimal("1e14"), Decimal(1), "kWh", "scheduled"),
                ReadingRecord(1, "energy_import", T0, Decimal("1e7"), Decimal("1e7"), "kWh", "scheduled"),
                ReadingRecord(1, "energy_import", T0.replace(tzinfo=None), Decimal(1), Decimal(1), "kWh", "scheduled")):
        assert ingest._plain_rows([*good[:2], bad, *good[2:]]) is None


def reading_at(ts):
    return ReadingRecord(1, "energy_import", ts, Decimal(1), Decimal(1), "kWh", "scheduled")


def test_the_months_of_a_batch_are_its_instants_utc_months():
    from datetime import date

    months = ingest._months_of
    assert months([]) == set()
    # the same instant in Beijing is the previous UTC month
    assert months([reading_at(datetime(2026, 5, 1, 7, tzinfo=BEIJING))]) == {date(2026, 4, 1)}
    assert months([reading_at(T0), reading_at(T0 + timedelta(days=1))]) == {date(2026, 3, 1), date(2026, 4, 1)}
    # far apart: only the months that hold readings, not every month between
    far = [reading_at(T0), reading_at(datetime(2020, 1, 5, tzinfo=UTC)), reading_at(T0 - timedelta(days=40))]
    assert months(far) == {date(2026, 3, 1), date(2020, 1, 1), date(2026, 2, 1)}
    # what is not an aware datetime makes no month (it is rejected when checked)
    odd = [reading_at(T0), reading_at(datetime(2024, 7, 1)), reading_at("2023-01-01T00:00:00+00:00")]
    assert months(odd) == {date(2026, 3, 1)}
    assert months([reading_at(datetime(2024, 7, 1))]) == set()


@settings(max_examples=200)
@given(runs=st.lists(st.integers(1, 2 * ingest.COPY_SLICE + 5), max_size=8))
def test_slices_end_only_where_the_meter_changes(runs):
    """Every record of a meter is in one slice (so a key's duplicates are too), the slices
    are the records in order, and a slice is cut as soon as it holds COPY_SLICE records."""
    records = [SimpleNamespace(meter_id=meter) for meter, run in enumerate(runs) for _ in range(run)]
    slices = list(ingest._meter_slices(records))
    assert [r for part in slices for r in part] == records
    for meter in range(len(runs)):
        assert sum(any(r.meter_id == meter for r in part) for part in slices) == 1
    for part, following in zip(slices, slices[1:], strict=False):
        assert following[0].meter_id != part[-1].meter_id
        assert len(part) >= ingest.COPY_SLICE
        assert len({r.meter_id for r in part[ingest.COPY_SLICE - 1:]}) == 1  # no more than the meter that was open


@given(rows=st.lists(st.tuples(st.integers(1, 5), st.integers(-3, 200)), max_size=60))
def test_the_days_of_a_slice_are_each_rows_meter_and_utc_day(rows):
    """Within one day or across several, with the day cache shared between slices."""
    table = [(meter, "energy_import", T0 + timedelta(minutes=15 * step)) for meter, step in rows]
    cache: dict = {}
    for part in (table[:30], table[30:]):
        assert ingest._days_of(part, cache) == {(meter, ts.date()) for meter, _q, ts in part}
