"""Which DL/T 645 data items become which stored quantities, and which ratio scales them.

Energy and power are scaled by CT x PT, current by CT, voltage by PT; power factor,
frequency and status words are not scaled. Quantity names are the store's vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    name: str
    unit: str
    scale: str  # "ctpt" | "ct" | "pt" | "none"


def _energy_2007() -> dict[int, Quantity]:
    out = {}
    for kind, prefix in ((0x00, "energy_combined"), (0x01, "energy_import"), (0x02, "energy_export")):
        out[kind << 16] = Quantity(prefix, "kWh", "ctpt")
        for tariff in range(1, 5):
            out[kind << 16 | tariff << 8] = Quantity(f"{prefix}_t{tariff}", "kWh", "ctpt")
    return out


DLT645_2007: dict[int, Quantity] = {
    **_energy_2007(),
    0x02010100: Quantity("voltage_a", "V", "pt"),
    0x02010200: Quantity("voltage_b", "V", "pt"),
    0x02010300: Quantity("voltage_c", "V", "pt"),
    0x02020100: Quantity("current_a", "A", "ct"),
    0x02020200: Quantity("current_b", "A", "ct"),
    0x02020300: Quantity("current_c", "A", "ct"),
    0x02030000: Quantity("power_active", "kW", "ctpt"),
    0x02040000: Quantity("power_reactive", "kvar", "ctpt"),
    0x02060000: Quantity("power_factor", "", "none"),
    0x02800002: Quantity("frequency", "Hz", "none"),
}

DLT645_1997: dict[int, Quantity] = {
    0x9010: Quantity("energy_import", "kWh", "ctpt"),
    **{0x9010 + t: Quantity(f"energy_import_t{t}", "kWh", "ctpt") for t in range(1, 5)},
    0x9020: Quantity("energy_export", "kWh", "ctpt"),
    0xB611: Quantity("voltage_a", "V", "pt"),
    0xB621: Quantity("current_a", "A", "ct"),
    0xB630: Quantity("power_active", "kW", "ctpt"),
    0xB650: Quantity("power_factor", "", "none"),
}

# What a 15-minute read plan asks every electricity meter for, by edition.
INSTANT_2007 = [0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400, 0x02010100, 0x02020100,
                0x02030000, 0x04000503]
INSTANT_1997 = [0x9010, 0x9011, 0x9012, 0x9013, 0x9014, 0xB611, 0xB621, 0xB630]
STATUS_WORD_3 = 0x04000503


def quantity_for(version: str, di: int) -> Quantity | None:
    return (DLT645_1997 if version == "1997" else DLT645_2007).get(di)


def mbus_quantity(meter_kind: str, record) -> Quantity | None:
    """Which M-Bus records are stored: current volume and flow (storage 0, instantaneous)."""
    if record.storage != 0 or record.tariff != 0 or int(record.function) != 0:
        return None
    medium = "gas" if meter_kind == "gas" else "water"
    if record.quantity == "volume":
        return Quantity(f"{medium}_volume", "m3", "none")
    if record.quantity == "volume_flow":
        return Quantity(f"{medium}_flow", "m3/h", "none")
    return None
