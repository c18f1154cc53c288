"""Every libmbus capture decodes to the values, units, quantities, storage numbers,
tariffs and functions of its .norm.xml (libmbus's normalised output), after converting
libmbus's units to ours."""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from datetime import date, datetime
from pathlib import Path

import pytest

from meterhub.protocols.mbus import (
    FixedData,
    MBusError,
    VariableData,
    decode,
    describe,
)
from meterhub.protocols.mbus.records import DataField, Function

# collection needs the file names before the testdata_dir fixture runs: same lookup
_DATA = Path(os.environ.get("METERHUB_TESTDATA", Path(__file__).resolve().parents[3] / "shared"
                            / "testdata"))
LIBMBUS = _DATA / "mbus-libmbus"
CAPTURES = sorted(p.name[:-4] for p in LIBMBUS.glob("*.hex")) if LIBMBUS.is_dir() else []

# Captures where libmbus is wrong and we decode to the standard instead (see
# docs/protocols/mbus.md, "Where libmbus and we differ"): {name: {record ids}}.
# Here: BCD fields holding hex nibbles (A-F), which libmbus turns into a number and we
# report as invalid (raw None) rather than a silently wrong reading.
LIBMBUS_WRONG: dict[str, set[int]] = {"abb_f95": {2, 3}}

# libmbus unit -> (our unit, factor from the libmbus number to ours)
UNITS = {
    "Wh": ("kWh", 1e-3),
    "J": ("MJ", 1e-6),
    "W": ("kW", 1e-3),
    "J/h": ("MJ/h", 1e-6),
    "m^3": ("m3", 1.0),
    "m^3/h": ("m3/h", 1.0),
    "m^3/min": ("m3/h", 60.0),
    "m^3/s": ("m3/h", 3600.0),
    "°C": ("°C", 1.0),
    "K": ("K", 1.0),
    "V": ("V", 1.0),
    "A": ("A", 1.0),
    "s": ("s", 1.0),
    "kg": ("kg", 1.0),
    "bar": ("bar", 1.0),
}
UNITLESS = {"", "-", "Units for H.C.A.", "Reserved"}
QUANTITIES = {
    "Time point (date)": "date",
    "Time point (date & time)": "datetime",
    "Fabrication No": "fabrication_number",
    "(Enhanced) Identification": "enhanced_identification",
    "H.C.A.": "hca_units",
    "Parameter set identification": "parameter_set_id",
    "Model / Version": "model_version",
}
FUNCTIONS = {
    "Instantaneous value": Function.INSTANTANEOUS,
    "Maximum value": Function.MAXIMUM,
    "Minimum value": Function.MINIMUM,
    "Value during error state": Function.ERROR_STATE,
}
MEDIA = {
    "Other": 0x00, "Oil": 0x01, "Electricity": 0x02, "Gas": 0x03, "Heat: Outlet": 0x04,
    "Warm water (30-90°C)": 0x06, "Water": 0x07, "Heat Cost Allocator": 0x08,
    "Heat: Inlet": 0x0C, "Heat / Cooling load meter": 0x0D, "Bus/System": 0x0E, "Heat": 0x04,
    "Cold water": 0x16, "Breaker: Electricity": 0x20,
}
MONTH_S = 2629743.83
YEAR_S = 31556926.0


def _slug(text: str) -> str:
    return "_".join(text.lower().replace("/", " ").replace(".", " ").split())


def _load(name: str):
    data = bytes.fromhex((LIBMBUS / f"{name}.hex").read_text())
    # the files say ISO-8859-1 but are UTF-8 ("°C" is C2 B0): parse the decoded text
    text = (LIBMBUS / f"{name}.norm.xml").read_bytes().decode("utf-8")
    root = ET.fromstring(text[text.index("?>") + 2:])
    return data, root


def _text(el, tag):
    child = el.find(tag)
    return None if child is None else (child.text or "")


def _check_record(rec, el, where: str) -> None:
    func = _text(el, "Function")
    if func in ("Manufacturer specific", "More records follow"):
        assert rec.field == DataField.SPECIAL, where
        assert rec.more_records_follow == (func == "More records follow"), where
        expected = _text(el, "Value").replace(" ", "").lower()
        assert rec.raw.hex() == expected, where
        return
    assert rec.function == FUNCTIONS[func], where
    assert rec.storage == int(_text(el, "StorageNumber")), where
    tariff = _text(el, "Tariff")
    if tariff is not None:  # libmbus prints these only when the record has a DIFE
        assert rec.tariff == int(tariff), where
        assert rec.subunit == int(_text(el, "Device")), where
    else:
        assert rec.dife_count == 0, where
    unit, quantity, value = _text(el, "Unit"), _text(el, "Quantity"), _text(el, "Value")
    factor = 1.0
    if unit == "-" and quantity not in QUANTITIES:  # plain-text VIF
        assert rec.quantity == "plain_text", where
        assert rec.unit == quantity, where
    else:
        expected_q = QUANTITIES.get(quantity) or _slug(quantity)
        assert rec.quantity == expected_q, where
        assert unit in UNITS or unit in UNITLESS, f"{where}: unit {unit!r} not mapped"
        if unit in UNITS:
            our_unit, factor = UNITS[unit]
            if rec.unit in ("month", "year") and unit == "s":
                factor = 1 / (MONTH_S if rec.unit == "month" else YEAR_S)
            else:
                assert rec.unit == our_unit, where
    ours = rec.value
    if isinstance(ours, datetime):
        assert ours.strftime("%Y-%m-%dT%H:%M:%SZ") == value, where
    elif isinstance(ours, date):
        assert ours.isoformat() == value, where
    elif ours is None and quantity.startswith("Time point"):
        # libmbus renders "not set" dates as 1900-01-00T00:00:00Z or with a 00 month/day
        assert value == "1900-01-00T00:00:00Z" or "-00" in value, where
    elif isinstance(ours, str):
        assert ours == value, where
    elif rec.field == DataField.VARIABLE and " " in value.strip():
        # binary LVAR (E0h-F6h): we give the number, libmbus its bytes MSB first
        assert ours == int.from_bytes(bytes.fromhex(value), "big", signed=True), where
    else:
        expected = float(value) * factor
        got = float(ours)
        assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=2e-6 * max(factor, 1.0)), (
            f"{where}: {got} != {expected}")


def _check(name: str) -> None:
    data, root = _load(name)
    decoded = decode(data)
    info = root.find("SlaveInformation")
    if isinstance(decoded, FixedData):
        assert decoded.identification == int(_text(info, "Id"))
        assert decoded.access_number == int(_text(info, "AccessNumber"))
        assert decoded.medium == MEDIA[_text(info, "Medium")]
        fixed_units = {"kWh": ("kWh", 1.0), "l": ("m3", 1e-3)}
        for counter, el in zip(decoded.counters, root.findall("DataRecord"), strict=True):
            unit, factor = fixed_units[_text(el, "Unit")]
            assert counter.unit == unit
            assert float(counter.value) == pytest.approx(float(_text(el, "Value")) * factor)
        return
    assert isinstance(decoded, VariableData)
    h = decoded.header
    ident = _text(info, "Id")
    if ident.isdigit():
        assert h.identification == int(ident)
    else:  # hex digits in the id: libmbus prints it in hex without leading zeros
        assert h.identification is None and int(h.id_text, 16) == int(ident, 16)
    assert h.manufacturer == _text(info, "Manufacturer")
    assert h.version == int(_text(info, "Version"))
    assert h.medium == MEDIA[_text(info, "Medium")]
    assert h.access_number == int(_text(info, "AccessNumber"))
    assert h.status == int(_text(info, "Status"), 16)
    assert h.signature == int(_text(info, "Signature"), 16)
    elements = root.findall("DataRecord")
    assert len(decoded.records) == len(elements), "record count"
    skip = LIBMBUS_WRONG.get(name, set())
    for idx, (rec, el) in enumerate(zip(decoded.records, elements, strict=True)):
        if idx in skip:
            assert rec.raw is None and not rec.data[::-1].hex().isdigit()
            continue
        if el.find("Function") is None:
            continue  # libmbus could not decode this record and printed an empty element
        _check_record(rec, el, f"{name} record {idx}")


@pytest.mark.parametrize("name", CAPTURES)
def test_libmbus_capture(name, testdata_dir):
    _check(name)


def test_capture_folder_is_not_empty(testdata_dir):
    assert len(list((testdata_dir / "mbus-libmbus").glob("*.hex"))) >= 50


@pytest.mark.parametrize("name", CAPTURES)
def test_describe_is_json_ready(name, testdata_dir):
    import json

    data, _ = _load(name)
    out = describe(data)
    assert len(out) == 1 and "error" not in out[0]
    json.dumps(out)


def test_garbled_capture_is_a_typed_error(testdata_dir):
    data, _ = _load(CAPTURES[0])
    with pytest.raises(MBusError):
        decode(data[:-3] + bytes((data[-3] ^ 0xFF,)) + data[-2:])
