"""EN 13757-3 data headers: the 12-byte variable data header (CI 72h), the short header
(CI 7Ah), and the fixed data structure (CI 73h), plus manufacturer and medium codes."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MBusEncodeError, MBusHeaderError

MEDIA: dict[int, str] = {
    0x00: "other",
    0x01: "oil",
    0x02: "electricity",
    0x03: "gas",
    0x04: "heat_outlet",
    0x05: "steam",
    0x06: "warm_water",
    0x07: "water",
    0x08: "heat_cost_allocator",
    0x09: "compressed_air",
    0x0A: "cooling_outlet",
    0x0B: "cooling_inlet",
    0x0C: "heat_inlet",
    0x0D: "heat_cooling",
    0x0E: "bus_system",
    0x0F: "unknown",
    0x15: "hot_water",
    0x16: "cold_water",
    0x17: "dual_water",
    0x18: "pressure",
    0x19: "ad_converter",
    0x1A: "smoke_detector",
    0x1B: "room_sensor",
    0x1C: "gas_detector",
    0x20: "breaker_electricity",
    0x21: "valve",
    0x25: "customer_unit",
    0x28: "waste_water",
    0x29: "garbage",
    0x2A: "carbon_dioxide",
    0x31: "communication_controller",
    0x32: "unidirectional_repeater",
    0x33: "bidirectional_repeater",
    0x36: "radio_converter_system",
    0x37: "radio_converter_meter",
}


def medium_name(code: int) -> str:
    return MEDIA.get(code, f"reserved_{code:02x}")


def decode_manufacturer(value: int) -> str:
    """Three letters packed 5 bits each (A=1), as the FLAG association assigns them."""
    return "".join(chr(((value >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


def encode_manufacturer(code: str) -> int:
    if len(code) != 3 or not all("A" <= ch <= "Z" for ch in code.upper()):
        raise MBusEncodeError(f"manufacturer must be three letters A-Z, got {code!r}")
    up = code.upper()
    return ((ord(up[0]) - 64) << 10) | ((ord(up[1]) - 64) << 5) | (ord(up[2]) - 64)


def decode_bcd_id(data: bytes) -> int | None:
    """A little-endian BCD identification number; None if a nibble is not a digit."""
    text = data[::-1].hex()
    return int(text) if text.isdigit() else None


def encode_bcd_id(ident: int, size: int = 4) -> bytes:
    if not isinstance(ident, int) or not 0 <= ident < 10 ** (2 * size):
        raise MBusEncodeError(f"identification must be 0..{10 ** (2 * size) - 1}, got {ident!r}")
    return bytes.fromhex(f"{ident:0{2 * size}d}")[::-1]


@dataclass(frozen=True, slots=True)
class VariableHeader:
    """The fixed part in front of variable data records (CI 72h: 12 bytes).

    ``identification`` is the 8-digit secondary address; ``id_raw`` keeps the bytes
    because some meters put hex digits there, which a number cannot represent.
    """

    identification: int | None
    manufacturer: str
    version: int
    medium: int
    access_number: int
    status: int = 0
    signature: int = 0
    id_raw: bytes | None = None

    @property
    def medium_name(self) -> str:
        return medium_name(self.medium)

    @property
    def manufacturer_code(self) -> int:
        return encode_manufacturer(self.manufacturer)

    @property
    def secondary_address(self) -> str:
        """8 id digits + manufacturer (wire order) + version + medium, as libmbus prints it."""
        ident = self.id_text
        man = self.manufacturer_code.to_bytes(2, "little").hex().upper()
        return f"{ident}{man}{self.version:02X}{self.medium:02X}"

    @property
    def id_text(self) -> str:
        if self.id_raw is not None:
            return self.id_raw[::-1].hex().upper()
        return f"{self.identification:08d}"

    def encode(self) -> bytes:
        for name in ("version", "medium", "access_number", "status"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 0xFF:
                raise MBusEncodeError(f"{name} must be a byte, got {value!r}")
        if not isinstance(self.signature, int) or not 0 <= self.signature <= 0xFFFF:
            raise MBusEncodeError(f"signature must be 0..65535, got {self.signature!r}")
        ident = self.id_raw if self.id_raw is not None else encode_bcd_id(self.identification)
        return (
            ident
            + encode_manufacturer(self.manufacturer).to_bytes(2, "little")
            + bytes((self.version, self.medium, self.access_number, self.status))
            + self.signature.to_bytes(2, "little")
        )

    def to_dict(self) -> dict:
        return {
            "id": self.id_text,
            "manufacturer": self.manufacturer,
            "version": self.version,
            "medium": self.medium,
            "medium_name": self.medium_name,
            "access_number": self.access_number,
            "status": self.status,
            "signature": self.signature,
        }


def decode_variable_header(data: bytes) -> VariableHeader:
    if len(data) < 12:
        raise MBusHeaderError(f"variable data header needs 12 bytes, got {len(data)}", 0)
    ident = decode_bcd_id(data[0:4])
    return VariableHeader(
        identification=ident,
        manufacturer=decode_manufacturer(int.from_bytes(data[4:6], "little")),
        version=data[6],
        medium=data[7],
        access_number=data[8],
        status=data[9],
        signature=int.from_bytes(data[10:12], "little"),
        id_raw=None if ident is not None else bytes(data[0:4]),
    )


@dataclass(frozen=True, slots=True)
class ShortHeader:
    """CI 7Ah: access number, status and signature only (wireless and OMS style)."""

    access_number: int
    status: int = 0
    signature: int = 0

    def encode(self) -> bytes:
        return bytes((self.access_number, self.status)) + self.signature.to_bytes(2, "little")

    def to_dict(self) -> dict:
        return {"access_number": self.access_number, "status": self.status,
                "signature": self.signature}


def decode_short_header(data: bytes) -> ShortHeader:
    if len(data) < 4:
        raise MBusHeaderError(f"short header needs 4 bytes, got {len(data)}", 0)
    return ShortHeader(data[0], data[1], int.from_bytes(data[2:4], "little"))


# --- fixed data structure (CI 73h, EN 1434-3 legacy) ----------------------------------

# code -> (quantity, canonical unit, decimal exponent to canonical unit)
FIXED_UNITS: dict[int, tuple[str, str, int]] = {}
for _n in range(9):
    FIXED_UNITS[0x02 + _n] = ("energy", "kWh", _n - 3)  # Wh .. 100 MWh
    FIXED_UNITS[0x0B + _n] = ("energy", "MJ", _n - 3)  # kJ .. 100 GJ
    FIXED_UNITS[0x14 + _n] = ("power", "kW", _n - 3)  # W .. 100 MW
    FIXED_UNITS[0x1D + _n] = ("power", "MJ/h", _n - 3)  # kJ/h .. 100 GJ/h
    FIXED_UNITS[0x26 + _n] = ("volume", "m3", _n - 6)  # ml .. 100 m3
    FIXED_UNITS[0x2F + _n] = ("volume_flow", "m3/h", _n - 6)  # ml/h .. 100 m3/h
FIXED_UNITS[0x38] = ("temperature", "°C", -3)
FIXED_UNITS[0x39] = ("hca_units", "", 0)
FIXED_UNITS[0x3E] = ("historic", "", 0)
FIXED_UNITS[0x3F] = ("dimensionless", "", 0)


@dataclass(frozen=True, slots=True)
class FixedCounter:
    quantity: str
    unit: str
    exponent: int
    raw: int | None
    stored: bool  # status bit 6: value is from the storage (due date), not actual

    @property
    def value(self):
        from decimal import Decimal

        if self.raw is None:
            return None
        return Decimal(self.raw).scaleb(self.exponent)


@dataclass(frozen=True, slots=True)
class FixedData:
    identification: int | None
    access_number: int
    status: int
    medium: int
    counters: tuple[FixedCounter, FixedCounter]

    @property
    def medium_name(self) -> str:
        return medium_name(self.medium)


def decode_fixed(data: bytes) -> FixedData:
    if len(data) < 16:
        raise MBusHeaderError(f"fixed data structure needs 16 bytes, got {len(data)}", 0)
    status = data[5]
    u1, u2 = data[6], data[7]
    # the medium is split over the top two bits of both unit bytes
    medium = ((u2 & 0xC0) >> 4) | ((u1 & 0xC0) >> 6)
    binary = bool(status & 0x80)
    stored = bool(status & 0x40)
    counters = []
    for unit_byte, raw_bytes in ((u1, data[8:12]), (u2, data[12:16])):
        if binary:
            raw = int.from_bytes(raw_bytes, "little")
        else:
            raw = decode_bcd_id(raw_bytes)
        quantity, unit, exponent = FIXED_UNITS.get(unit_byte & 0x3F, ("unknown", "", 0))
        counters.append(FixedCounter(quantity, unit, exponent, raw, stored))
    return FixedData(decode_bcd_id(data[0:4]), data[4], status, medium, tuple(counters))
