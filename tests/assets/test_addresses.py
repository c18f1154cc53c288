import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.assets.addresses import normalise
from meterhub.assets.models import Protocol


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_any_12_digit_dlt645_address_survives_as_printed(n):
    printed = f"{n:012d}"
    assert normalise(Protocol.DLT645_2007, printed) == printed
    assert normalise(Protocol.DLT645_2007, str(n)) == printed  # leading zeros lost by a spreadsheet


@pytest.mark.parametrize("bad", ["12345678901A", "1234567890123", "", "12 34 56 78 90 1x"])
def test_bad_dlt645_addresses_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match="address"):
        normalise(Protocol.DLT645_1997, bad)


def test_mbus_primary_and_secondary_addresses():
    assert normalise(Protocol.MBUS, "007") == "7"
    assert normalise(Protocol.MBUS, "12345678") == "12345678"
    for bad in ("0", "251", "1234567", "ABCDEFGH"):
        with pytest.raises(ValueError):
            normalise(Protocol.MBUS, bad)


def test_glow_device_id_is_the_ethmac():
    assert normalise(Protocol.GLOW_MQTT, "01:23:45:67:89:ab") == "0123456789AB"
    with pytest.raises(ValueError):
        normalise(Protocol.GLOW_MQTT, "0123")
