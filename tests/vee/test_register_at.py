"""The main register at earlier local midnights, as validation's spike history reads it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.readings.ingest import store_readings
from meterhub.readings.models import Reading
from meterhub.vee.validation import _last_read, _register_at
from tests.vee.helpers import Q, rec, slot_now

pytestmark = pytest.mark.django_db


def test_midnights_before_the_first_read_cost_no_lookup_each(meter):
    today = slot_now().replace(hour=0, minute=0)
    store_readings([rec(meter, today - timedelta(days=1) + i * Q, 100 + i) for i in range(1, 9)])  # since yesterday
    midnights = [today - timedelta(days=k) for k in range(14, -1, -1)]  # two weeks of spike history
    with CaptureQueriesContext(connection) as queries:
        at = _register_at(meter.pk, "energy_import", midnights)
    assert [at[m] for m in midnights[:-1]] == [None] * 14
    assert at[today].raw == 108
    assert len(queries) <= 3  # exact reads, the first read, today's lookup: not one per midnight


@given(offsets=st.lists(st.integers(0, 30), min_size=1, max_size=8), asked=st.lists(st.integers(-4, 36), max_size=10))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_each_answer_is_the_last_actual_read_at_or_before_it(meter, offsets, asked):
    Reading.objects.filter(meter=meter).delete()
    base = slot_now() - timedelta(days=2)
    store_readings([rec(meter, base + o * Q, 100 + o) for o in set(offsets)])
    instants = [base + a * Q for a in asked]
    at = _register_at(meter.pk, "energy_import", instants)
    assert at == {i: _last_read(meter.pk, "energy_import", i, inclusive=True, actual_only=True) for i in instants}
