import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.headend.link import (
    Registration,
    RegistrationError,
    RegistrationParser,
    strip_heartbeats,
)


def test_registration_with_port_and_following_bus_bytes():
    reg, rest = RegistrationParser().feed(b"REG:860000000000001:2\r\n\x68\x01")
    assert reg == Registration("860000000000001", 2)
    assert rest == b"\x68\x01"


@given(st.integers(min_value=1, max_value=20))
def test_registration_found_however_the_bytes_are_chunked(cut):
    data = b"REG:DTU-7\r\n"
    parser = RegistrationParser()
    first = parser.feed(data[:cut])
    result = first or parser.feed(data[cut:])
    assert result == (Registration("DTU-7", 1), b"")


def test_garbage_before_registration_is_refused():
    with pytest.raises(RegistrationError, match="garbage"):
        RegistrationParser().feed(b"GET / HTTP/1.1\r\nREG:X\r\n")


def test_endless_bytes_without_registration_are_refused():
    parser = RegistrationParser()
    with pytest.raises(RegistrationError, match="no registration"):
        for _ in range(10):
            parser.feed(b"\x00" * 20)


def test_heartbeats_are_removed_between_frames():
    assert strip_heartbeats(b"HB\r\n\x68\x01HB\r\n") == (b"\x68\x01", 2)
    assert strip_heartbeats(b"\x68\x01") == (b"\x68\x01", 0)
