"""Glow IHD/CAD MQTT payloads: the shared captures, the error value, missing fields."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterhub.protocols import glow
from meterhub.protocols.glow import (
    ElectricityReading,
    GasReading,
    GlowError,
    GlowPayloadError,
    GlowState,
    GlowTopicError,
    describe,
    parse_message,
)


def _messages(testdata_dir):
    return json.loads((testdata_dir / "glow" / "payloads.json").read_text())["messages"]


@pytest.fixture
def messages(testdata_dir):
    return _messages(testdata_dir)


def test_every_capture_yields_its_expect(messages):
    assert len(messages) >= 4
    checked = 0
    for msg in messages:
        reading = parse_message(msg["topic"], json.dumps(msg["payload"]))
        assert reading.device_id == "0123456789AB"
        for key, want in msg.get("expect", {}).items():
            if key == "note":
                continue
            got = getattr(reading, key)
            if want is None:
                assert got is None, key
                assert key in reading.missing, key
            else:
                assert got == Decimal(str(want)), key
                assert isinstance(got, Decimal)
            checked += 1
    assert checked == sum(len(m.get("expect", {})) - ("note" in m.get("expect", {}))
                          for m in messages) >= 9


def test_describe_on_the_capture_file(testdata_dir):
    raw = (testdata_dir / "glow" / "payloads.json").read_bytes()
    out = describe(raw)
    msgs = _messages(testdata_dir)
    assert len(out) == len(msgs)
    for d, msg in zip(out, msgs, strict=True):
        assert "error" not in d
        for key, want in msg.get("expect", {}).items():
            if key != "note":
                assert d[key] == want, key
    json.dumps(out)
    # a list of {"topic","payload"} and a single one work too
    assert describe(json.dumps(msgs).encode()) == out
    assert describe(json.dumps(msgs[1]).encode()) == out[1:2]


def test_state_message(messages):
    state = parse_message(messages[0]["topic"], messages[0]["payload"])
    assert isinstance(state, GlowState)
    assert state.software == "v1.8.12" and state.han_status == "joined"
    assert state.han_rssi == -75 and state.han_lqi == 100 and state.smets_version == "SMETS2"


def test_electricity_reading_fields(messages):
    r = parse_message(messages[1]["topic"], messages[1]["payload"])
    assert isinstance(r, ElectricityReading)
    assert r.timestamp == datetime(2022, 6, 11, 20, 38, tzinfo=UTC)
    assert r.timestamp.tzinfo is not None
    assert r.import_day_kwh == Decimal("13.252") and r.mpan == "1234"
    assert r.supplier == "ABC ENERGY" and r.missing == ()


def test_error_value_is_missing_not_negative(messages):
    r = parse_message(messages[2]["topic"], messages[2]["payload"])
    assert r.power_kw is None
    assert r.missing == ("power_kw",)
    assert "-8388.608" in r.problems[0]
    assert r.import_kwh == Decimal("6613.407")


def test_error_value_in_any_number_field(messages):
    payload = copy.deepcopy(messages[3]["payload"])
    payload["gasmeter"]["energy"]["import"]["cumulativevol"] = -8388.608
    r = parse_message(messages[3]["topic"], payload)
    assert isinstance(r, GasReading)
    assert r.volume_m3 is None and "volume_m3" in r.missing
    assert r.import_kwh == Decimal("10234.512")


def test_gas_reading_fields(messages):
    r = parse_message(messages[3]["topic"], messages[3]["payload"])
    assert r.volume_m3 == Decimal("930.155") and r.day_m3 == Decimal("1.912")
    assert r.unit_rate == Decimal("0.07") and r.standing_charge == Decimal("0.27")
    assert r.mprn == "5678"


def test_missing_fields_are_marked(messages):
    payload = copy.deepcopy(messages[1]["payload"])
    del payload["electricitymeter"]["power"]
    del payload["electricitymeter"]["energy"]["import"]["price"]
    del payload["electricitymeter"]["timestamp"]
    r = parse_message(messages[1]["topic"], payload)
    assert r.power_kw is None and r.unit_rate is None and r.timestamp is None
    assert {"power_kw", "unit_rate", "standing_charge", "timestamp"} <= set(r.missing)
    assert r.import_kwh == Decimal("6613.405")


def test_units_are_converted_or_refused(messages):
    payload = copy.deepcopy(messages[1]["payload"])
    payload["electricitymeter"]["power"] = {"value": 951, "units": "W"}
    payload["electricitymeter"]["energy"]["export"]["units"] = "BTU"
    r = parse_message(messages[1]["topic"], payload)
    assert r.power_kw == Decimal("0.951")
    assert r.export_kwh is None and "export_kwh" in r.missing  # never a wrong number


def test_not_a_number_and_booleans_are_missing(messages):
    payload = copy.deepcopy(messages[1]["payload"])
    payload["electricitymeter"]["energy"]["import"]["cumulative"] = True
    payload["electricitymeter"]["power"]["value"] = "n/a"
    r = parse_message(messages[1]["topic"], payload)
    assert r.import_kwh is None and r.power_kw is None


def test_bad_topic_and_payload_are_typed_errors():
    with pytest.raises(GlowTopicError):
        parse_message("glow/0123456789AB/SENSOR/watermeter", {})
    with pytest.raises(GlowPayloadError):
        parse_message("glow/0123456789AB/SENSOR/gasmeter", b"{not json")
    with pytest.raises(GlowPayloadError):
        parse_message("glow/0123456789AB/SENSOR/gasmeter", {"electricitymeter": {}})
    with pytest.raises(GlowPayloadError):
        parse_message("glow/0123456789AB/STATE", "[1, 2]")
    assert describe(b"nope")[0]["error"] == "GlowPayloadError"
    assert describe(b'[{"topic": "x"}]')[0]["error"] == "GlowPayloadError"


def test_custom_topic_prefix():
    r = parse_message("home/meters/glow/AABBCCDDEEFF/SENSOR/gasmeter",
                      {"gasmeter": {"energy": {"import": {"cumulative": 1.5}}}})
    assert r.device_id == "AABBCCDDEEFF" and r.import_kwh == Decimal("1.5")
    assert r.volume_m3 is None and "volume_m3" in r.missing


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["energy", "import", "export", "power", "value",
                                       "units", "cumulative", "price", "unitrate",
                                       "timestamp", "han", "cumulativevol", "day"]),
                      children, max_size=5),
    max_leaves=20,
)


@given(st.sampled_from(["glow/A/STATE", "glow/A/SENSOR/electricitymeter",
                        "glow/A/SENSOR/gasmeter", "glow", "", "x/y/SENSOR/z"]),
       st.one_of(json_values, st.dictionaries(st.sampled_from(["electricitymeter",
                                                               "gasmeter"]), json_values)))
@settings(deadline=None)
def test_never_anything_but_glow_error(topic, payload):
    try:
        msg = parse_message(topic, payload)
        json.dumps(glow.to_dict(msg))
    except GlowError:
        pass
    json.dumps(describe(json.dumps({"topic": topic, "payload": payload}).encode()))


@given(st.binary(max_size=200))
@settings(deadline=None)
def test_describe_never_raises_on_bytes(data):
    json.dumps(describe(data))
