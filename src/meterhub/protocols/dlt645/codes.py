"""Control codes (the function part, bits D4..D0) and the ERR byte of abnormal replies.

The control byte is shared by both editions:
D7 direction (0 master -> meter, 1 meter reply), D6 abnormal reply,
D5 follow-up frames exist, D4..D0 function.
"""

from __future__ import annotations

from enum import IntEnum

DIRECTION_BIT = 0x80
ABNORMAL_BIT = 0x40
FOLLOW_UP_BIT = 0x20
FUNCTION_MASK = 0x1F


class Code2007(IntEnum):
    SECURITY = 0x03  # ESAM security authentication (not built here: vendor/ESAM specific)
    BROADCAST_TIME = 0x08
    READ = 0x11
    READ_FOLLOW_UP = 0x12
    READ_ADDRESS = 0x13
    WRITE = 0x14
    WRITE_ADDRESS = 0x15
    FREEZE = 0x16
    CHANGE_BAUD = 0x17
    CHANGE_PASSWORD = 0x18
    CLEAR_DEMAND = 0x19
    CLEAR_METER = 0x1A
    CLEAR_EVENT = 0x1B
    RELAY_CONTROL = 0x1C


class Code1997(IntEnum):
    READ = 0x01
    READ_FOLLOW_UP = 0x02
    REREAD = 0x03
    WRITE = 0x04
    BROADCAST_TIME = 0x08
    WRITE_ADDRESS = 0x0A
    CHANGE_BAUD = 0x0C
    CHANGE_PASSWORD = 0x0F
    CLEAR_DEMAND = 0x10


#: human names, also the "function" key of describe() output
FUNCTION_NAMES = {
    "2007": {
        Code2007.SECURITY: "security authentication",
        Code2007.BROADCAST_TIME: "broadcast time",
        Code2007.READ: "read",
        Code2007.READ_FOLLOW_UP: "read follow-up",
        Code2007.READ_ADDRESS: "read address",
        Code2007.WRITE: "write",
        Code2007.WRITE_ADDRESS: "write address",
        Code2007.FREEZE: "freeze",
        Code2007.CHANGE_BAUD: "change baud",
        Code2007.CHANGE_PASSWORD: "change password",
        Code2007.CLEAR_DEMAND: "max-demand clear",
        Code2007.CLEAR_METER: "meter clear",
        Code2007.CLEAR_EVENT: "event clear",
        Code2007.RELAY_CONTROL: "relay control",
    },
    "1997": {
        Code1997.READ: "read",
        Code1997.READ_FOLLOW_UP: "read follow-up",
        Code1997.REREAD: "reread",
        Code1997.WRITE: "write",
        Code1997.BROADCAST_TIME: "broadcast time",
        Code1997.WRITE_ADDRESS: "write address",
        Code1997.CHANGE_BAUD: "change baud",
        Code1997.CHANGE_PASSWORD: "change password",
        Code1997.CLEAR_DEMAND: "max-demand clear",
    },
}

#: ERR byte of an abnormal reply, bit -> name (D7 reserved in both editions)
ERR_BITS = {
    "2007": (
        "other error",
        "no requested data",
        "password wrong / not authorised",
        "baud rate cannot be changed",
        "annual time zones exceeded",
        "daily time periods exceeded",
        "tariffs exceeded",
    ),
    "1997": (
        "illegal data",
        "data identifier wrong",
        "password wrong",
        "reserved",
        "annual time zones exceeded",
        "daily time periods exceeded",
        "tariffs exceeded",
    ),
}


def _names(err: int, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(names[i] if i < len(names) else f"bit {i}" for i in range(8) if err >> i & 1)


# every ERR byte's names, precomputed: parsing an abnormal reply is one lookup
_ERR_TABLE = {v: tuple(_names(e, n) for e in range(256)) for v, n in ERR_BITS.items()}


def error_bits(err: int, version: str = "2007") -> list[str]:
    """Names of the bits set in an ERR byte; unknown bits come out as 'bit N'."""
    return list(_ERR_TABLE[version][err])


def error_byte(names, version: str = "2007") -> int:
    """Inverse of `error_bits`, for a simulated meter building an abnormal reply."""
    table = ERR_BITS[version]
    err = 0
    for name in names:
        if name.startswith("bit "):
            err |= 1 << int(name[4:])
        else:
            err |= 1 << table.index(name)
    return err


#: communication-rate feature word Z (change-baud frames): bit -> baud, both editions
BAUD_BITS = {600: 0x02, 1200: 0x04, 2400: 0x08, 4800: 0x10, 9600: 0x20, 19200: 0x40}
BAUD_FROM_BITS = {v: k for k, v in BAUD_BITS.items()}


class RelayAction(IntEnum):
    """N1 of a 2007 control-code 1C frame."""

    TRIP = 0x1A
    CLOSE_ALLOWED = 0x1B
    DIRECT_CLOSE = 0x1C
    ALARM = 0x2A
    ALARM_RELEASE = 0x2B
    POWER_HOLD = 0x3A
    POWER_HOLD_RELEASE = 0x3B

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")
