"""Alarm core: deduplication by condition, acknowledge and clear with who and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from meterhub.accounts.models import AuditEntry
from meterhub.alarms import services
from meterhub.alarms.models import Alarm

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def meter(site, collector):
    from meterhub.assets.models import Meter

    return Meter.objects.create(serial="E1", site=site, address="000000000001", collector=collector)


def test_the_same_open_condition_is_one_alarm_with_a_count(meter):
    first, created = services.raise_alarm("seal_open", T0, meter=meter)
    again, created_again = services.raise_alarm("seal_open", T0 + timedelta(hours=1), meter=meter)
    assert created and not created_again and again.pk == first.pk
    again.refresh_from_db()
    assert (again.count, again.raised_at, again.last_at) == (2, T0, T0 + timedelta(hours=1))
    assert (again.site, again.severity) == (meter.site, "critical")


def test_a_redelivered_occurrence_is_not_counted_twice(meter):
    services.raise_alarm("seal_open", T0, meter=meter)
    services.raise_alarm("seal_open", T0, meter=meter)
    services.raise_alarm("seal_open", T0 - timedelta(minutes=5), meter=meter)
    assert Alarm.objects.get().count == 1


def test_other_kinds_and_meters_are_other_alarms(meter, site, collector):
    from meterhub.assets.models import Meter

    other = Meter.objects.create(serial="E2", site=site, address="000000000002", collector=collector)
    services.raise_alarm("seal_open", T0, meter=meter)
    services.raise_alarm("foreign_seal", T0, meter=meter)
    services.raise_alarm("seal_open", T0, meter=other)
    assert Alarm.objects.count() == 3


def test_acknowledge_then_clear_records_who_and_when(meter, make_operator):
    olga = make_operator("operator", "olga")
    alarm, _ = services.raise_alarm("seal_open", T0, meter=meter)
    services.acknowledge(alarm, olga)
    alarm.refresh_from_db()
    assert (alarm.state, alarm.acknowledged_by) == ("acknowledged", olga) and alarm.acknowledged_at
    with pytest.raises(ValidationError, match="Only a raised alarm"):
        services.acknowledge(alarm, olga)
    with pytest.raises(ValidationError, match="why"):
        services.clear(alarm, olga, " ")
    services.clear(alarm, olga, "meter replaced")
    alarm.refresh_from_db()
    assert (alarm.state, alarm.cleared_by, alarm.clear_reason) == ("cleared", olga, "meter replaced")
    with pytest.raises(ValidationError, match="already cleared"):
        services.clear(alarm, olga, "again")
    assert list(AuditEntry.objects.filter(object_type="alarm").values_list("action", flat=True)) == [
        "clear", "acknowledge"]


def test_after_clearing_the_condition_raises_a_new_alarm(meter, make_operator):
    alarm, _ = services.raise_alarm("seal_open", T0, meter=meter)
    services.clear(alarm, make_operator("operator"), "fixed")
    fresh, created = services.raise_alarm("seal_open", T0 + timedelta(days=1), meter=meter)
    assert created and fresh.pk != alarm.pk


def test_an_alarm_needs_somewhere(db):
    with pytest.raises(ValueError):
        services.raise_alarm("seal_open", T0)
