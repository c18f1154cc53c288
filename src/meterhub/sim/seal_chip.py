"""The smart seal chip: asset number, sealed/open, time of the last change.

The chip sits on the meter's RS-485 pair and reports to the meter, which keeps its
state and answers it as the vendor-extension seal item
(`meterhub.protocols.dlt645.seal`: DI 04FE0001 by default, `SealItemSpec` per model).
Times are the *meter's* local clock (the meter stamps what the chip reports).
"""

from __future__ import annotations

from datetime import datetime

from meterhub.protocols.dlt645.seal import DEFAULT_SEAL_SPEC, SealItemSpec, SealStatus

from .meter import local_datetime


def asset_number_for(seed: int, spec: SealItemSpec = DEFAULT_SEAL_SPEC) -> str:
    """A plausible asset number for a spec, from a seed (digits for BCD specs)."""
    digits = 2 * spec.asset_bytes if spec.asset_encoding == "bcd" else spec.asset_bytes
    n = (seed * 2654435761 + 0x5EA1) % (10 ** min(digits, 16))
    text = f"{n:0{min(digits, 16)}d}"
    if spec.asset_encoding == "ascii":
        text = ("SL" + text)[:digits]
    return text.rjust(digits, "0") if spec.asset_encoding == "bcd" else text


def reported_asset(asset_number: str, spec: SealItemSpec = DEFAULT_SEAL_SPEC) -> str:
    """The asset number as a meter model's seal item carries it. A BCD item keeps the
    digits only (a foreign chip's letters are lost), the last `2 * asset_bytes` of
    them, left-padded with zeros; an ASCII item keeps the first `asset_bytes` characters."""
    a = str(asset_number)
    if spec.asset_encoding == "bcd":
        width = 2 * spec.asset_bytes
        digits = "".join(ch for ch in a if "0" <= ch <= "9")
        return digits[-width:].zfill(width)
    return a.encode("latin-1", "replace")[: spec.asset_bytes].decode("latin-1")


class SealChip:
    """One seal chip. `changed_at` is meter-local seconds since the epoch (None: never)."""

    __slots__ = ("asset_number", "sealed", "changed_at", "opened_count")

    def __init__(self, asset_number: str, sealed: bool = True, changed_at: float | None = None):
        self.asset_number = asset_number
        self.sealed = sealed
        self.changed_at = changed_at
        self.opened_count = 0

    def open(self, local_s: float) -> bool:
        """Break the seal; True if it was sealed (a state change)."""
        if not self.sealed:
            return False
        self.sealed = False
        self.changed_at = local_s
        self.opened_count += 1
        return True

    def close(self, local_s: float) -> bool:
        """Re-seal the same chip (a technician's job); True if it was open."""
        if self.sealed:
            return False
        self.sealed = True
        self.changed_at = local_s
        return True

    def swap(self, asset_number: str, local_s: float) -> None:
        """A different chip now sits on the meter, sealed (a foreign seal after a theft)."""
        self.asset_number = asset_number
        self.sealed = True
        self.changed_at = local_s

    def status(self, spec: SealItemSpec = DEFAULT_SEAL_SPEC) -> SealStatus:
        """What the meter reports for the chip through `spec`'s item."""
        at: datetime | None = None if self.changed_at is None else local_datetime(self.changed_at)
        return SealStatus(reported_asset(self.asset_number, spec), self.sealed, at)

    def __repr__(self) -> str:
        return (f"SealChip({self.asset_number!r}, sealed={self.sealed}, "
                f"changed_at={self.changed_at})")
