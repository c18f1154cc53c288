"""Hypothesis strategies for DL/T 645: addresses, every request and reply kind of
both editions, and values for every format in the item tables."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from hypothesis import strategies as st

from meterhub.protocols.dlt645 import (
    BAUD_BITS,
    Ack,
    AddressReply,
    BaudReply,
    BroadcastTime,
    ChangeBaud,
    ChangePassword,
    ClearDemand,
    ClearEvent,
    ClearMeter,
    Code1997,
    Code2007,
    ErrorReply,
    Freeze,
    PasswordReply,
    Read,
    ReadAddress,
    ReadFollowUp,
    ReadFollowUpReply1997,
    ReadReply,
    RelayAction,
    RelayControl,
    Reread,
    Write,
    WriteAddress,
)
from meterhub.protocols.dlt645.seal import SealFormat, SealStatus
from meterhub.protocols.dlt645.values import (
    Ascii,
    DateWeek,
    Digits,
    Flags,
    MonthDayTime,
    Number,
    Record,
    Stamp,
)

digits = st.sampled_from("0123456789")
hexdig = st.sampled_from("0123456789ABCDEF")


def digit_text(n: int, alphabet=digits):
    return st.text(alphabet, min_size=n, max_size=n)


addresses = digit_text(12)
passwords = digit_text(6, hexdig)
operators = digit_text(8, hexdig)
levels = st.integers(0, 9)
di2007 = st.integers(0, 0xFFFFFFFF)
di1997 = st.integers(0, 0xFFFF)
stamps6 = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0)
)
stamps5 = stamps6.map(lambda d: d.replace(second=0))
bauds = st.sampled_from(sorted(BAUD_BITS))
payload = st.binary(max_size=180)

ACKED_2007 = [Code2007.WRITE, Code2007.WRITE_ADDRESS, Code2007.FREEZE, Code2007.CLEAR_DEMAND,
              Code2007.CLEAR_METER, Code2007.CLEAR_EVENT, Code2007.RELAY_CONTROL]
ACKED_1997 = [Code1997.WRITE, Code1997.WRITE_ADDRESS, Code1997.CLEAR_DEMAND]


def _read2007(a, di, count, since):
    return Read(a, di, count, since if count is not None else None)


requests_2007 = st.one_of(
    st.builds(_read2007, addresses, di2007, st.none() | st.integers(0, 255),
              st.none() | stamps5),
    st.builds(ReadFollowUp, addresses, di2007, st.integers(0, 255)),
    st.builds(ReadAddress, addresses | st.just("AAAAAAAAAAAA")),
    st.builds(Write, addresses, di2007, payload, levels, passwords, operators),
    st.builds(WriteAddress, st.just("AAAAAAAAAAAA"), addresses),
    st.builds(BroadcastTime, stamps6),
    st.builds(Freeze, addresses | st.just("999999999999"), digit_text(8)),
    st.builds(ChangeBaud, addresses, bauds),
    st.builds(ChangePassword, addresses, levels, passwords, levels, passwords),
    st.builds(ClearDemand, addresses, levels, passwords, operators),
    st.builds(ClearMeter, addresses, levels, passwords, operators),
    st.builds(ClearEvent, addresses, di2007, levels, passwords, operators),
    st.builds(RelayControl, addresses, st.sampled_from(list(RelayAction)), stamps6, levels,
              passwords, operators, st.integers(0, 255)),
)

requests_1997 = st.one_of(
    st.builds(Read, addresses, di1997, version=st.just("1997")),
    st.builds(ReadFollowUp, addresses, di1997, version=st.just("1997")),
    st.builds(Reread, addresses),
    st.builds(Write, addresses, di1997, payload, levels, passwords, version=st.just("1997")),
    st.builds(WriteAddress, st.just("999999999999"), addresses, version=st.just("1997")),
    st.builds(BroadcastTime, stamps6, version=st.just("1997")),
    st.builds(ChangeBaud, addresses, bauds, version=st.just("1997")),
    st.builds(ChangePassword, addresses, levels, passwords, levels, passwords,
              version=st.just("1997")),
    st.builds(ClearDemand, addresses, levels, passwords, version=st.just("1997")),
)

replies_2007 = st.one_of(
    st.builds(ReadReply, addresses, di2007, payload, st.booleans(),
              st.none() | st.integers(0, 255)),
    st.builds(AddressReply, addresses),
    st.builds(Ack, addresses, st.sampled_from(ACKED_2007)),
    st.builds(BaudReply, addresses, bauds),
    st.builds(PasswordReply, addresses, levels, passwords),
    st.builds(ErrorReply, addresses, st.integers(0, 31), st.integers(0, 255)),
)

replies_1997 = st.one_of(
    st.builds(ReadReply, addresses, di1997, payload, st.booleans(), version=st.just("1997")),
    st.builds(ReadFollowUpReply1997, addresses, di1997, payload, st.booleans()),
    st.builds(Ack, addresses, st.sampled_from(ACKED_1997), version=st.just("1997")),
    st.builds(BaudReply, addresses, bauds, version=st.just("1997")),
    st.builds(PasswordReply, addresses, levels, passwords, version=st.just("1997")),
    st.builds(ErrorReply, addresses, st.integers(0, 31), st.integers(0, 255),
              version=st.just("1997")),
)

#: (version, message)
messages = st.one_of(
    st.tuples(st.just("2007"), requests_2007 | replies_2007),
    st.tuples(st.just("1997"), requests_1997 | replies_1997),
)


def values_for(fmt):
    """A strategy of values the format can carry exactly."""
    if isinstance(fmt, Number):
        limit = (8 if fmt.signed else 10) * 10 ** (2 * fmt.size - 1) - 1
        ints = st.integers(-limit if fmt.signed else 0, limit)
        if fmt.decimals == 0:
            return ints
        return ints.map(lambda n: Decimal(n).scaleb(-fmt.decimals))
    if isinstance(fmt, SealFormat):
        spec = fmt.spec
        asset = (digit_text(2 * spec.asset_bytes) if spec.asset_encoding == "bcd"
                 else st.text(st.characters(min_codepoint=33, max_codepoint=126),
                              max_size=spec.asset_bytes))
        return st.builds(
            lambda a, sealed, t: SealStatus(a, sealed, t,
                                            spec.sealed_value if sealed else spec.open_value),
            asset, st.booleans(), st.none() | stamps6,
        )
    if isinstance(fmt, Digits):
        return digit_text(2 * fmt.size)
    if isinstance(fmt, Ascii):
        return st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=fmt.size)
    if isinstance(fmt, Stamp):
        if fmt.pattern == "YYMMDDhhmmss":
            base = stamps6
        elif fmt.pattern == "YYMMDDhhmm":
            base = stamps5
        elif fmt.pattern == "YYMMDD":
            base = st.dates(date(2000, 1, 1), date(2099, 12, 31))
        else:
            base = st.times().map(lambda t: t.replace(microsecond=0) if fmt.size == 3
                                  else time(t.hour, t.minute))
        # all-zero is "no value" (None); exclude values that encode to zeros
        return base.filter(lambda v: any(fmt.encode(v))) | st.none()
    if isinstance(fmt, DateWeek):
        return st.dates(date(2000, 1, 1), date(2099, 12, 31))
    if isinstance(fmt, MonthDayTime):
        return st.builds(lambda m, d, h, mi: f"{m:02d}-{d:02d}T{h:02d}:{mi:02d}",
                         st.integers(1, 12), st.integers(1, 31), st.integers(0, 23),
                         st.integers(0, 59))
    if isinstance(fmt, Flags):
        return st.integers(0, (1 << (8 * fmt.size)) - 1).map(
            lambda w: fmt.decode(w.to_bytes(fmt.size, "little"))
        )
    if isinstance(fmt, Record):
        return st.fixed_dictionaries({name: values_for(f) for name, f in fmt.fields})
    raise AssertionError(f"no strategy for {fmt!r}")
