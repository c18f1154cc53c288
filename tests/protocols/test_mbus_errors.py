"""Every malformed telegram from libmbus gives one clear, typed MBusError subclass."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from meterhub.protocols.mbus import (
    MBusApplicationError,
    MBusError,
    MBusHeaderError,
    MBusRecordError,
    MBusStreamParser,
    decode,
    describe,
)

_DATA = Path(os.environ.get("METERHUB_TESTDATA", Path(__file__).resolve().parents[3] / "shared"
                            / "testdata"))
ERRORS = _DATA / "mbus-libmbus-errors"

EXPECTED = {
    "application_busy": (MBusApplicationError, "application busy"),
    "buffer_too_long": (MBusApplicationError, "buffer too long"),
    "error": (MBusApplicationError, "unspecified error"),
    "premature_end_of_data1": (MBusRecordError, "premature end of data"),
    "premature_end_of_data2": (MBusRecordError, "premature end of data"),
    "premature_end_of_dif1": (MBusRecordError, "inside the DIFE"),
    "premature_end_of_dif2": (MBusRecordError, "inside the DIFE"),
    "premature_end_of_record": (MBusApplicationError, "premature end of record"),
    "premature_end_of_var_vif1": (MBusRecordError, "premature end of plain-text VIF"),
    "premature_end_of_vif1": (MBusRecordError, "no VIF"),
    "too_long_var_vif": (MBusRecordError, "plain-text VIF length 243 is too long"),
    "too_many_dife": (MBusRecordError, "more than 10 DIFE"),
    "too_many_difes": (MBusApplicationError, "more than 10 DIFE"),
    "too_many_readouts": (MBusApplicationError, "too many readouts"),
    "too_many_records": (MBusApplicationError, "too many records"),
    "too_many_vife": (MBusRecordError, "more than 10 VIFE"),
    "too_many_vifes": (MBusApplicationError, "more than 10 VIFE"),
    "too_short_header": (MBusHeaderError, "header needs 12 bytes"),
    "unimplemented_ci": (MBusApplicationError, "unimplemented CI field"),
    "unspecified_error": (MBusApplicationError, "unspecified error"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_error_telegram_is_typed(name, testdata_dir):
    data = bytes.fromhex((testdata_dir / "mbus-libmbus-errors" / f"{name}.hex").read_text())
    cls, words = EXPECTED[name]
    with pytest.raises(MBusError) as info:
        decode(data)
    assert type(info.value) is cls
    assert words.lower() in str(info.value).lower()
    assert info.value.offset is not None and 0 <= info.value.offset < len(data)
    # the libmbus XML beside some of them says what the slave meant: same wording
    xml = testdata_dir / "mbus-libmbus-errors" / f"{name}.xml"
    if xml.exists():
        text = xml.read_bytes().decode("utf-8", "replace")
        expected = ET.fromstring(text[text.index("?>") + 2:]).findtext(".//Error")
        first_word = expected.split()[0].lower()
        assert first_word in str(info.value).lower()


def test_every_error_file_is_covered(testdata_dir):
    names = {p.stem for p in (testdata_dir / "mbus-libmbus-errors").glob("*.hex")}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_error_telegram_in_stream_and_describe(name, testdata_dir):
    """The link layer is fine in all of them: the stream yields the frame, and
    describe() reports the application error as data instead of raising."""
    data = bytes.fromhex((testdata_dir / "mbus-libmbus-errors" / f"{name}.hex").read_text())
    events = MBusStreamParser().feed(b"\xff\xfe" + data)
    assert len(events) == 1 and not isinstance(events[0], MBusError)
    out = describe(data)
    assert len(out) == 1
    assert out[0]["error"] == EXPECTED[name][0].__name__


def test_application_error_code_is_kept(testdata_dir):
    data = bytes.fromhex((testdata_dir / "mbus-libmbus-errors" / "application_busy.hex")
                         .read_text())
    with pytest.raises(MBusApplicationError) as info:
        decode(data)
    assert info.value.code == 8
