"""The smart-seal vendor-extension data item.

A smart seal chip on the meter's RS-485 pair reports its asset number and
sealed/open state to the meter, which keeps them. DL/T 645 defines no identifier
for this, so meterhub defines one as a *vendor extension*: DI 04FE0001 in the
parameter group (DI3 = 04), with DI2 = FE, a block the standard leaves unassigned
and that meter makers use for their own items. Different meter models put the
item elsewhere or lay it out differently: describe each with a `SealItemSpec`
and register it under the model name (see docs/protocols/dlt645.md).

Default layout (15 bytes, each multi-byte field low byte first, like the rest of
the standard):

    asset number   8 bytes BCD (16 digits)  or ASCII, per spec
    state          1 byte   00 = sealed, 01 = open, anything else = unknown
    last change    6 bytes  YYMMDDhhmmss (meter local time)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .errors import DecodeError, EncodeError
from .values import Ascii, Digits, Format, Stamp


@dataclass(frozen=True, slots=True)
class SealItemSpec:
    """Where and how a meter model keeps the seal item."""

    di: int = 0x04FE0001
    asset_bytes: int = 8
    asset_encoding: str = "bcd"  # "bcd" (digits) or "ascii"
    sealed_value: int = 0x00
    open_value: int = 0x01
    name: str = "smart seal status (vendor extension)"

    def __post_init__(self):
        if self.asset_encoding not in ("bcd", "ascii"):
            raise ValueError("asset_encoding must be 'bcd' or 'ascii'")
        if not 1 <= self.asset_bytes <= 32:
            raise ValueError("asset_bytes must be 1..32")
        if not 0 <= self.di <= 0xFFFFFFFF:
            raise ValueError("di must fit 4 bytes")

    @property
    def size(self) -> int:
        return self.asset_bytes + 1 + 6

    def format(self) -> SealFormat:
        return SealFormat(self)


@dataclass(frozen=True, slots=True)
class SealStatus:
    asset_number: str
    sealed: bool | None  # None: the state byte holds neither configured value
    changed_at: datetime | None
    state_raw: int = 0

    def to_dict(self) -> dict:
        return {
            "asset_number": self.asset_number,
            "state": "sealed" if self.sealed else "open" if self.sealed is False else "unknown",
            "sealed": self.sealed,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
            "state_raw": f"{self.state_raw:02X}",
        }


class SealFormat(Format):
    __slots__ = ("spec", "_asset", "_stamp")

    def __init__(self, spec: SealItemSpec):
        super().__init__(f"seal[{spec.asset_bytes}+1+6]", spec.size)
        self.spec = spec
        n = spec.asset_bytes
        self._asset = Digits("N" * 2 * n) if spec.asset_encoding == "bcd" else Ascii("A" * n, n)
        self._stamp = Stamp("YYMMDDhhmmss")

    def decode(self, raw: bytes) -> SealStatus:
        self._check(raw)
        n = self.spec.asset_bytes
        state = raw[n]
        sealed = (
            True
            if state == self.spec.sealed_value
            else False
            if state == self.spec.open_value
            else None
        )
        asset = self._asset.decode(raw[:n])
        if self.spec.asset_encoding == "bcd" and not asset.isdigit():
            raise DecodeError(f"seal asset number is not BCD: {asset}")
        return SealStatus(asset, sealed, self._stamp.decode(raw[n + 1 :]), state)

    def encode(self, value) -> bytes:
        try:
            return self._encode(value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, EncodeError):
                raise
            raise EncodeError(f"seal item: cannot encode {value!r}: {exc}") from exc

    def _encode(self, value) -> bytes:
        if isinstance(value, dict):
            value = SealStatus(
                value["asset_number"], value.get("sealed"), value.get("changed_at"),
                int(value.get("state_raw", "0"), 16) if isinstance(value.get("state_raw"), str)
                else value.get("state_raw", 0),
            )
        if value.sealed is True:
            state = self.spec.sealed_value
        elif value.sealed is False:
            state = self.spec.open_value
        else:
            state = value.state_raw
        asset = str(value.asset_number)
        if self.spec.asset_encoding == "bcd" and not (asset.isascii() and asset.isdigit()):
            raise EncodeError(f"seal asset number must be digits: {value.asset_number!r}")
        return (
            self._asset.encode(value.asset_number)
            + bytes((state,))
            + self._stamp.encode(value.changed_at)
        )


DEFAULT_SEAL_SPEC = SealItemSpec()

#: meter model -> spec; add yours with `register_seal_spec`
SEAL_SPECS: dict[str, SealItemSpec] = {"default": DEFAULT_SEAL_SPEC}


def register_seal_spec(model: str, spec: SealItemSpec) -> None:
    SEAL_SPECS[model] = spec


def seal_spec_for(model: str | None) -> SealItemSpec:
    """The spec registered for a meter model, or the default one."""
    return SEAL_SPECS.get(model or "default", DEFAULT_SEAL_SPEC)
