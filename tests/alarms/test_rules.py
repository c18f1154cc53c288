"""Each alarm rule raises once while its condition holds and clears when it ends (or, for
tamper, by hand): events through the store, the sweep over links and meters, readings
through the processing pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.alarms import rules, services
from meterhub.alarms.models import Alarm, AlarmSettings
from meterhub.alarms.reading_rules import conditions
from meterhub.comms.models import BusLink, Command, MeterCommStatus
from meterhub.comms.store import write_batch
from meterhub.headend.records import CommRecord, EventRecord, ReadingRecord
from meterhub.notifications.models import Message
from meterhub.readings import processing

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def meter(site, collector):
    from meterhub.assets.models import Meter

    return Meter.objects.create(serial="E1", site=site, address="000000000001", collector=collector)


@pytest.fixture
def gas_meter(site, collector):
    from meterhub.assets.models import Meter

    return Meter.objects.create(serial="G1", site=site, address="00000001", collector=collector, kind="gas",
                                protocol="mbus", switch="valve")


def open_alarms(kind):
    return list(Alarm.objects.filter(kind=kind).exclude(state="cleared"))


@pytest.mark.parametrize("event", ["cover_open", "terminal_cover_open"])
def test_a_cover_opened_is_an_alarm_until_someone_clears_it(meter, make_operator, event):
    write_batch([EventRecord(meter.id, event, T0, {"count": 1})])
    write_batch([EventRecord(meter.id, event, T0, {"count": 1})])  # re-delivered
    [alarm] = open_alarms(event)
    assert (alarm.severity, alarm.count, alarm.raised_at) == ("critical", 1, T0)
    services.clear(alarm, make_operator(), "cover resealed, job WO-3")
    assert open_alarms(event) == []


def test_a_cover_record_read_again_after_its_alarm_was_cleared_raises_nothing(meter, make_operator):
    """The head-end reads the newest record again after a restart: stored already, no new alarm."""
    record = {"number": 1, "start": "2026-05-01T16:00:00", "end": None}
    write_batch([EventRecord(meter.id, "cover_open", T0, record)])
    services.clear(open_alarms("cover_open")[0], make_operator(), "inspected")
    write_batch([EventRecord(meter.id, "cover_open", T0, record)])
    assert open_alarms("cover_open") == [] and Alarm.objects.count() == 1


def test_closing_the_cover_tells_its_alarm_until_when(meter):
    write_batch([EventRecord(meter.id, "cover_open", T0, {"number": 4, "end": None})])
    write_batch([EventRecord(meter.id, "cover_closed", T0 + timedelta(minutes=6),
                             {"number": 4, "end": "2026-05-01T16:06:00"})])
    [alarm] = open_alarms("cover_open")
    assert alarm.detail["end"] == "2026-05-01T16:06:00" and alarm.state == "raised", "a person still clears it"


@pytest.mark.parametrize("minutes, alarms", [(3, {"seal_open"}), (-8, {"seal_open"}),
                                             (45, {"seal_open", "cover_open"})])
def test_the_cover_opening_that_goes_with_a_seal_opening_is_evidence_on_the_seal_alarm(meter, minutes, alarms):
    services.raise_alarm("seal_open", T0, meter=meter, detail={"asset_number": "12345678"})
    write_batch([EventRecord(meter.id, "cover_open", T0 + timedelta(minutes=minutes), {"number": 1})])
    assert {a.kind for a in Alarm.objects.all()} == alarms
    seal = Alarm.objects.get(kind="seal_open")
    assert (seal.detail.get("cover_record") == {"number": 1}) == (alarms == {"seal_open"})
    assert seal.count == 1


def test_a_terminal_cover_opening_is_its_own_alarm_even_beside_a_seal_alarm(meter):
    services.raise_alarm("seal_open", T0, meter=meter)
    write_batch([EventRecord(meter.id, "terminal_cover_open", T0, {"number": 1})])
    assert {a.kind for a in Alarm.objects.all()} == {"seal_open", "terminal_cover_open"}


def test_the_fleet_resumes_cover_watching_from_the_newest_stored_record(meter):
    from meterhub.comms.fleet import load_fleet

    write_batch([EventRecord(meter.id, "cover_open", T0, {"number": 2}),
                 EventRecord(meter.id, "cover_open", T0 + timedelta(days=1), {"number": 3}),
                 EventRecord(meter.id, "cover_closed", T0 + timedelta(days=2), {"number": 3}),
                 EventRecord(meter.id, "terminal_cover_open", T0, {"number": 1})])
    assert load_fleet().meters["E1"].cover_numbers == (("cover_open", 3), ("terminal_cover_open", 1))


def test_clock_drift_beyond_the_limit_raises_and_a_good_check_clears(meter):
    write_batch([EventRecord(meter.id, "clock_write", T0, {"offset_s": 620.0})])
    [alarm] = open_alarms("clock_drift")
    assert alarm.detail["offset_s"] == 620.0 and alarm.detail["limit_s"] == 300
    write_batch([EventRecord(meter.id, "clock_ok", T0 + timedelta(days=1), {"offset_s": 1.5})])
    alarm.refresh_from_db()
    assert (alarm.state, alarm.cleared_by, alarm.clear_reason) == ("cleared", None, "condition ended")


def test_the_clock_limit_is_the_sites(meter, site):
    AlarmSettings.objects.create(site=site, clock_drift_s=1000)
    write_batch([EventRecord(meter.id, "clock_write", T0, {"offset_s": 620.0})])
    assert open_alarms("clock_drift") == []


def test_a_gas_leak_is_one_alarm_and_closes_the_valve_at_once(gas_meter):
    write_batch([EventRecord(gas_meter.id, "leak", T0, {"valve_open": True})])
    write_batch([EventRecord(gas_meter.id, "leak", T0 + timedelta(minutes=5), {"valve_open": False})])
    [alarm] = open_alarms("gas_leak")
    [command] = Command.objects.filter(meter=gas_meter)
    assert (command.kind, command.status, command.requested_by) == ("valve_close", "pending", "alarm")
    assert alarm.detail["valve_command"] == command.pk and alarm.count == 2
    write_batch([EventRecord(gas_meter.id, "leak_cleared", T0 + timedelta(hours=1))])
    alarm.refresh_from_db()
    assert alarm.state == "cleared" and alarm.cleared_at == T0 + timedelta(hours=1)
    assert Command.objects.filter(meter=gas_meter).count() == 1, "the valve stays shut until a person opens it"


def relay_command(meter, kind, finished_at):
    return Command.objects.create(meter=meter, kind=kind, status="done", finished_at=finished_at,
                                  valid_until=finished_at + timedelta(hours=1), requested_by="olga")


def test_a_relay_not_where_the_last_command_left_it_alarms_until_it_is(meter):
    relay_command(meter, "relay_trip", T0)
    write_batch([EventRecord(meter.id, "relay_state", T0 + timedelta(minutes=30), {"relay_open": True})])
    assert open_alarms("relay_mismatch") == [], "tripped as commanded"
    write_batch([EventRecord(meter.id, "relay_state", T0 + timedelta(hours=1), {"relay_open": False})])
    [alarm] = open_alarms("relay_mismatch")  # closed by hand (a bypass?) after the trip
    assert alarm.detail["commanded"] == "relay_trip"
    write_batch([EventRecord(meter.id, "relay_state", T0 + timedelta(hours=2), {"relay_open": True})])
    assert open_alarms("relay_mismatch") == []


def test_a_relay_read_before_its_command_finished_is_not_judged_by_it(meter):
    relay_command(meter, "relay_direct_close", T0)
    relay_command(meter, "relay_trip", T0 + timedelta(hours=1))
    write_batch([EventRecord(meter.id, "relay_state", T0 + timedelta(minutes=30), {"relay_open": False})])
    assert open_alarms("relay_mismatch") == []


def test_no_relay_command_or_close_allowed_expects_nothing(meter):
    write_batch([EventRecord(meter.id, "relay_state", T0, {"relay_open": True})])
    relay_command(meter, "relay_close_allowed", T0)
    write_batch([EventRecord(meter.id, "relay_state", T0 + timedelta(hours=1), {"relay_open": True})])
    assert open_alarms("relay_mismatch") == []


def test_a_water_leak_alarms_without_touching_a_valve(site, collector):
    from meterhub.assets.models import Meter

    water = Meter.objects.create(serial="W1", site=site, address="00000002", collector=collector, kind="water",
                                 protocol="mbus", switch="valve")
    write_batch([EventRecord(water.id, "leak", T0)])
    assert len(open_alarms("water_leak")) == 1 and not Command.objects.exists()


def test_a_collector_offline_longer_than_the_limit_is_one_alarm_cleared_when_it_returns(collector):
    BusLink.objects.create(collector=collector, port=1, online=False, since=T0, last_seen=T0)
    assert rules.sweep(T0 + timedelta(minutes=29))["collectors"] == 0
    rules.sweep(T0 + timedelta(minutes=31))
    rules.sweep(T0 + timedelta(minutes=45))
    [alarm] = open_alarms("collector_offline")
    assert (alarm.collector, alarm.meter, alarm.count) == (collector, None, 1)
    assert alarm.raised_at == T0 + timedelta(minutes=30)
    BusLink.objects.filter(collector=collector).update(online=True, since=T0 + timedelta(hours=1))
    rules.sweep(T0 + timedelta(hours=1, minutes=1))
    alarm.refresh_from_db()
    assert alarm.state == "cleared" and alarm.cleared_at == T0 + timedelta(hours=1)


def test_a_meter_silent_for_n_cycles_alarms_and_answers_clear_it(meter):
    for n in range(3):
        write_batch([CommRecord(meter.id, T0 + timedelta(minutes=15 * n), False, "no reply")])
        rules.sweep(T0 + timedelta(minutes=15 * n, seconds=30))
        assert len(open_alarms("meter_silent")) == (1 if n == 2 else 0)
    write_batch([CommRecord(meter.id, T0 + timedelta(hours=1), True)])
    rules.sweep(T0 + timedelta(hours=1, seconds=30))
    assert open_alarms("meter_silent") == []
    assert MeterCommStatus.objects.get(meter=meter).consecutive_failures == 0


def test_meters_behind_an_offline_collector_are_not_one_alarm_each(meter, collector):
    BusLink.objects.create(collector=collector, port=1, online=False, since=T0, last_seen=T0)
    MeterCommStatus.objects.create(meter=meter, consecutive_failures=10, last_attempt=T0)
    rules.sweep(T0 + timedelta(hours=1))
    assert [a.kind for a in Alarm.objects.all()] == ["collector_offline"]


def test_a_condition_that_flaps_reopens_its_alarm_and_tells_nobody_again(meter, make_operator):
    from meterhub.notifications.models import DutyShift

    olga = make_operator("operator", "olga")
    olga.phone = "139"
    olga.save()
    DutyShift.objects.create(user=olga, level=1, starts_at=T0 - timedelta(days=1), ends_at=T0 + timedelta(days=9))
    first, _ = services.raise_alarm("voltage_loss", T0, meter=meter)
    services.resolve("voltage_loss", T0 + timedelta(minutes=1), meter=meter)
    again, created = services.raise_alarm("voltage_loss", T0 + timedelta(minutes=3), meter=meter)
    assert not created and again.pk == first.pk and (again.state, again.flaps, again.count) == ("raised", 1, 2)
    assert Message.objects.filter(event="alarm.raised").count() == 1
    services.resolve("voltage_loss", T0 + timedelta(minutes=4), meter=meter)
    later, created = services.raise_alarm("voltage_loss", T0 + timedelta(hours=2), meter=meter)
    assert created and later.pk != first.pk, "outside the flapping window: a new alarm"
    assert Message.objects.filter(event="alarm.raised").count() == 2


def test_resolving_what_is_not_open_does_nothing(meter):
    assert services.resolve("voltage_loss", T0, meter=meter) is None


def store(meter, ts, **values):
    write_batch([ReadingRecord(meter.id, q, ts, Decimal(str(v)), Decimal(1), "", "scheduled")
                 for q, v in values.items()])
    processing.process_dirty()


def test_voltage_loss_from_readings_raises_and_clears(meter):
    store(meter, T0, voltage_a=231.0, current_a=5, power_active=1.2)
    assert not Alarm.objects.exists()
    store(meter, T0 + timedelta(minutes=15), voltage_a=3.1, current_a=0, power_active=0)
    [alarm] = open_alarms("voltage_loss")
    assert alarm.detail["phases"] == ["a"] and alarm.raised_at == T0 + timedelta(minutes=15)
    store(meter, T0 + timedelta(minutes=30), voltage_a=229.0, current_a=4, power_active=1.0)
    alarm.refresh_from_db()
    assert alarm.state == "cleared"


def test_reverse_flow_and_current_imbalance_from_readings(meter):
    store(meter, T0, voltage_a=230, voltage_b=230, voltage_c=230, current_a=10, current_b=9.5, current_c=1,
          power_active=-2.5)
    assert {a.kind for a in Alarm.objects.all()} == {"reverse_flow", "current_imbalance"}
    store(meter, T0 + timedelta(minutes=15), voltage_a=230, voltage_b=230, voltage_c=230, current_a=10,
          current_b=9.5, current_c=9, power_active=6)
    assert not Alarm.objects.exclude(state="cleared").exists()


def test_readings_of_an_earlier_time_do_not_decide(meter):
    store(meter, T0 + timedelta(hours=1), voltage_a=230)
    store(meter, T0, voltage_a=0)  # a late, older reading
    assert open_alarms("voltage_loss") == []


@given(st.dictionaries(st.sampled_from(["voltage_a", "voltage_b", "voltage_c", "current_a", "current_b",
                                        "current_c", "power_active"]),
                       st.decimals(-1000, 1000, places=2, allow_nan=False, allow_infinity=False)))
def test_conditions_hold_exactly_when_the_thresholds_say(values):
    limits = AlarmSettings()
    found = conditions(values, limits)
    volts = [v for q, v in values.items() if q.startswith("voltage")]
    assert ("voltage_loss" in found) == bool(volts)
    if volts:
        assert (found["voltage_loss"] is not None) == any(v < limits.voltage_loss_v for v in volts)
    if "power_active" in values:
        assert (found["reverse_flow"] is not None) == (values["power_active"] < -limits.reverse_power_kw)
    amps = [v for q, v in values.items() if q.startswith("current")]
    if found.get("current_imbalance") is not None:
        assert len(amps) >= 2 and max(amps) >= limits.imbalance_min_a
        assert (max(amps) - min(amps)) / max(amps) * 100 > limits.imbalance_pct


def test_billing_raises_its_alarms_through_the_same_call(meter):
    alarm, created = services.raise_alarm("low_balance", T0, meter=meter, detail={"balance": "4.20"})
    assert created and alarm.severity == "info"
    arrears, _ = services.raise_alarm("arrears", T0, meter=meter)
    assert arrears.severity == "minor"
    assert services.resolve("low_balance", T0 + timedelta(days=1), meter=meter).state == "cleared"


def test_energy_registered_while_the_relay_is_open_alarms_and_closing_it_clears(site, collector):
    from meterhub.assets.models import Meter

    meter = Meter.objects.create(serial="E9", site=site, address="000000000009", collector=collector, switch="relay")
    write_batch([EventRecord(meter.id, "relay_state", T0, {"relay_open": True})])
    store(meter, T0 + timedelta(minutes=15), energy_import=100)
    store(meter, T0 + timedelta(minutes=30), energy_import="100.02")
    assert open_alarms("consumption_relay_open") == [], "within the tolerance"
    store(meter, T0 + timedelta(minutes=45), energy_import="100.9")
    [alarm] = open_alarms("consumption_relay_open")
    assert alarm.detail["kwh"] == "0.9" or Decimal(alarm.detail["kwh"]) == Decimal("0.9")
    write_batch([EventRecord(meter.id, "relay_state", T0 + timedelta(hours=1), {"relay_open": False})])
    assert open_alarms("consumption_relay_open") == []
    store(meter, T0 + timedelta(hours=2), energy_import=105)
    assert open_alarms("consumption_relay_open") == [], "closed: consumption is normal"
