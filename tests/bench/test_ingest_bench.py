"""`meterhub bench ingest` runs end to end on a tiny fleet (figures are not asserted: timing
belongs to the benchmark, not the suite) and builds the two shapes it claims."""

import pytest
from django.db import connection

from meterhub.bench import ingest as ingest_bench
from meterhub.readings.models import Reading

pytestmark = pytest.mark.django_db(transaction=True)


def test_interval_shape_is_one_instant_after_another_and_profile_is_a_meter_day_at_a_time():
    from datetime import UTC, datetime

    start = datetime(2026, 1, 1, tzinfo=UTC)
    interval = ingest_bench.records([1, 2], 16, start)
    assert [(r.meter_id, r.ts.minute) for r in interval[::4]] == [(1, 0), (2, 0), (1, 15), (2, 15)]
    profile = ingest_bench.records([1, 2], 96 * 4 + 4, start, shape="profile")
    assert {r.meter_id for r in profile[:96 * 4]} == {1}
    assert profile[96 * 4].meter_id == 2 and profile[96 * 4].ts == start
    assert len({(r.meter_id, r.quantity, r.ts) for r in profile}) == len(profile)


def test_the_benchmark_stores_every_row_it_times():
    alias = connection.alias
    result = ingest_bench.measure(alias, None, rows=400, baseline_rows=20, meters=5, batch_size=100)
    for key in ("sqlite_rows_per_s", "sqlite_orm_rows_per_s", "sqlite_engine_rows_per_s", "sqlite_profile_rows_per_s",
                "orm_rows_per_s"):
        assert result[key] > 0, key
    assert Reading.objects.count() == 400 + 20 + 400  # interval, ORM baseline, profile (the engine's own table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM engine_reading")
        assert cursor.fetchone()[0] == 400


def test_the_engine_figure_on_postgresql_also_writes_a_table_partitioned_like_the_readings():
    from datetime import UTC, datetime

    if connection.vendor != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    from meterhub.assets.models import Meter

    ids = ingest_bench._fleet(connection.alias, 3)
    data = ingest_bench.records(ids, 300, datetime(2026, 1, 31, 23, 0, tzinfo=UTC))  # January into February
    assert ingest_bench._engine(connection.alias, data, 100, partitioned=True) > 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM engine_reading_partitioned GROUP BY 1 ORDER BY 1")
        # 3 meters x 4 quantities a step; four steps (23:00-23:45) in January
        assert cursor.fetchall() == [("engine_reading_partitioned_2026_01", 48),
                                     ("engine_reading_partitioned_2026_02", 300 - 48)]
    assert Meter.objects.count() == 3
