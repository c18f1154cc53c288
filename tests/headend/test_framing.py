"""What answers a request: read from the request's header, the same as a full decode says."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.headend.framing import Dlt645Expectation, Dlt645Framing
from meterhub.protocols import dlt645

addresses = st.text("0123456789", min_size=12, max_size=12) | st.just(dlt645.WILDCARD)


def decoded_expectation(request: bytes) -> Dlt645Expectation:
    frame = dlt645.decode_frame(request)
    function = frame.control & 0x1F
    n = {0x11: 4, 0x12: 4, 0x01: 2, 0x02: 2}.get(function)
    return Dlt645Expectation(frame.address.upper(), function, frame.data[:n] if n else None)


@given(address=addresses, di=st.integers(0, 0xFFFFFFFF), preamble=st.sampled_from([0, 2, 4]),
       seq=st.integers(1, 255))
def test_expectation_of_2007_requests_matches_a_full_decode(address, di, preamble, seq):
    for request in (dlt645.Read(address, di), dlt645.ReadFollowUp(address, di, seq)):
        raw = request.encode(preamble=preamble)
        assert Dlt645Framing.expectation(raw) == decoded_expectation(raw)


@given(address=st.text("0123456789", min_size=12, max_size=12), di=st.integers(0, 0xFFFF))
def test_expectation_of_1997_reads_matches_a_full_decode(address, di):
    raw = dlt645.Read(address, di, version="1997").encode(preamble=4)
    expected = decoded_expectation(raw)
    assert Dlt645Framing.expectation(raw) == expected
    assert expected.di == di.to_bytes(2, "little")


def test_expectation_of_a_broadcast_has_no_di():
    raw = dlt645.BroadcastTime(datetime(2026, 1, 1, 8)).encode(preamble=4)
    assert Dlt645Framing.expectation(raw) == Dlt645Expectation("999999999999", 0x08, None)


@pytest.mark.parametrize("raw", [b"", b"\xfe\xfe", b"\x68\x01\x02", b"junk" * 5,
                                 dlt645.Read("240101000001", 0x00010000).encode()[:-1] + b"\x00"])
def test_a_request_that_is_not_one_frame_is_a_clear_error(raw):
    with pytest.raises(dlt645.Dlt645Error):
        Dlt645Framing.expectation(raw)
