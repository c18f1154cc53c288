"""Secondary addressing (EN 13757-3 annex): select a slave by its 8-byte identity.

The master sends SND_UD to address FDh with CI 52h and
``ID(4, BCD, LSB first) MAN(2) VER(1) MED(1)``; each ID nibble may be the wildcard F,
and MAN = FFFFh, VER = FFh, MED = FFh match anything. The selected slave then answers
REQ_UD2 on address FDh. Masks use the libmbus text form ``"12345678FFFFFFFF"``: the
wire bytes after the id, manufacturer LSB first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import MBusEncodeError, MBusFrameError
from .frame import NETWORK_LAYER, snd_ud
from .header import VariableHeader, decode_manufacturer, encode_manufacturer

CI_SELECT = 0x52
_MASK = re.compile(r"^[0-9F]{8}[0-9A-F]{8}$")


@dataclass(frozen=True, slots=True)
class SecondaryAddress:
    """A selection mask: 8 id nibbles (digits or F), manufacturer, version, medium."""

    id_mask: str = "FFFFFFFF"
    manufacturer: int = 0xFFFF  # packed code, FFFFh = any
    version: int = 0xFF
    medium: int = 0xFF

    @classmethod
    def from_mask(cls, mask: str) -> SecondaryAddress:
        m = mask.upper()
        if not _MASK.match(m):
            raise MBusEncodeError(
                f"secondary address mask must be 8 id digits/F + 8 hex digits, got {mask!r}")
        # manufacturer digits are in wire order (LSB first), as libmbus prints them
        man = int.from_bytes(bytes.fromhex(m[8:12]), "little")
        return cls(m[:8], man, int(m[12:14], 16), int(m[14:16], 16))

    @classmethod
    def of(cls, ident: int | str, manufacturer: str | None = None, version: int | None = None,
           medium: int | None = None) -> SecondaryAddress:
        id_mask = f"{ident:08d}" if isinstance(ident, int) else str(ident).upper()
        if not re.fullmatch(r"[0-9F]{8}", id_mask):
            raise MBusEncodeError(f"id must be 8 digits (F = wildcard), got {ident!r}")
        return cls(
            id_mask,
            0xFFFF if manufacturer is None else encode_manufacturer(manufacturer),
            0xFF if version is None else version,
            0xFF if medium is None else medium,
        )

    @property
    def mask(self) -> str:
        man = self.manufacturer.to_bytes(2, "little").hex().upper()
        return f"{self.id_mask}{man}{self.version:02X}{self.medium:02X}"

    def encode(self) -> bytes:
        for name, value, top in (("manufacturer", self.manufacturer, 0xFFFF),
                                 ("version", self.version, 0xFF),
                                 ("medium", self.medium, 0xFF)):
            if not isinstance(value, int) or not 0 <= value <= top:
                raise MBusEncodeError(f"{name} out of range: {value!r}")
        if not re.fullmatch(r"[0-9F]{8}", self.id_mask):
            raise MBusEncodeError(f"bad id mask {self.id_mask!r}")
        return (bytes.fromhex(self.id_mask)[::-1] + self.manufacturer.to_bytes(2, "little")
                + bytes((self.version, self.medium)))

    def matches(self, header: VariableHeader) -> bool:
        """Would a slave with this header answer the selection? (for the simulator)"""
        ident = header.id_text
        if any(m != "F" and m != d for m, d in zip(self.id_mask, ident, strict=True)):
            return False
        if self.manufacturer != 0xFFFF and self.manufacturer != header.manufacturer_code:
            return False
        if self.version != 0xFF and self.version != header.version:
            return False
        return self.medium == 0xFF or self.medium == header.medium

    def to_dict(self) -> dict:
        man = None if self.manufacturer == 0xFFFF else decode_manufacturer(self.manufacturer)
        return {"mask": self.mask, "id": self.id_mask, "manufacturer": man,
                "version": None if self.version == 0xFF else self.version,
                "medium": None if self.medium == 0xFF else self.medium}


def parse_selection(data: bytes) -> SecondaryAddress:
    """The 8 data bytes of a CI 52h selection to a mask."""
    if len(data) != 8:
        raise MBusFrameError(f"selection needs 8 data bytes, got {len(data)}", 0)
    return SecondaryAddress(
        bytes(data[3::-1]).hex().upper(),
        int.from_bytes(data[4:6], "little"),
        data[6],
        data[7],
    )


def select_secondary(address: SecondaryAddress | str, fcb: bool = False) -> bytes:
    """The SND_UD frame that selects a slave; the slave ACKs with E5 if it matches."""
    if isinstance(address, str):
        address = SecondaryAddress.from_mask(address)
    return snd_ud(NETWORK_LAYER, CI_SELECT, address.encode(), fcb=fcb)
