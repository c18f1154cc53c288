"""Data-identifier tables: what each DI means, its format, scale, sign and unit.

2007 identifiers are four bytes DI3 DI2 DI1 DI0, written 00010000 and sent DI0
first. 1997 identifiers are two bytes, written 9010 and sent low byte first.
A byte FF (2007) or a low nibble F (1997) asks for a *block*: the reply is the
elements concatenated, and we split it with the element format.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .errors import DecodeError
from .seal import DEFAULT_SEAL_SPEC, SealItemSpec
from .values import (
    Ascii,
    DateWeek,
    Digits,
    Flag,
    Flags,
    Format,
    Hex,
    MonthDayTime,
    Number,
    Record,
    Stamp,
)


@dataclass(frozen=True, slots=True)
class Item:
    di: int
    name: str
    fmt: Format
    unit: str = ""
    version: str = "2007"

    @property
    def di_hex(self) -> str:
        return f"{self.di:08X}" if self.version == "2007" else f"{self.di:04X}"


# --- shared formats ---------------------------------------------------------

ENERGY = Number("XXXXXX.XX", 4)
ENERGY_SIGNED = Number("XXXXXX.XX", 4, signed=True)
COUNT3 = Number("XXXXXX", 3)
STAMP6 = Stamp("YYMMDDhhmmss")
STAMP5 = Stamp("YYMMDDhhmm")

# --- status words 1-7 (2007, 04000501..04000507) -------------------------------

_PHASE_FAULTS = (
    Flag("loss_of_voltage", 0),
    Flag("undervoltage", 1),
    Flag("overvoltage", 2),
    Flag("loss_of_current", 3),
    Flag("overcurrent", 4),
    Flag("overload", 5),
    Flag("power_reversed", 6),
    Flag("phase_break", 7),
    Flag("current_break", 8),
)

STATUS_WORDS = {
    1: Flags("status word 1", 2, (
        Flag("demand_interval_mode", 1),  # 0 sliding window, 1 fixed interval
        Flag("clock_battery_low", 2),
        Flag("reading_battery_low", 3),
        Flag("active_power_reversed", 4),
        Flag("reactive_power_reversed", 5),
        # Q/GDW 1354 additions, 0 on plain 2007 meters
        Flag("control_circuit_fault", 8),
        Flag("esam_fault", 9),
        Flag("program_fault", 12),
        Flag("storage_fault", 13),
        Flag("overdrawn", 14),
        Flag("clock_fault", 15),
    )),
    2: Flags("status word 2", 2, (
        Flag("phase_a_active_reversed", 0),
        Flag("phase_b_active_reversed", 1),
        Flag("phase_c_active_reversed", 2),
        Flag("phase_a_reactive_reversed", 4),
        Flag("phase_b_reactive_reversed", 5),
        Flag("phase_c_reactive_reversed", 6),
    )),
    3: Flags("status word 3", 2, (
        Flag("time_period_set_2", 0),
        Flag("supply_source", 1, 2, ("main", "auxiliary", "battery", "reserved")),
        Flag("programming_enabled", 3),
        Flag("relay_open", 4),  # the relay's actual state: 1 = open (supply cut)
        Flag("time_zone_set_2", 5),
        Flag("relay_trip_commanded", 6),  # last relay command: 1 = trip
        Flag("pre_trip_alarm", 7),
        Flag("prepay_type", 8, 2, ("none", "energy", "money", "reserved")),
        Flag("tariff_schedule_2", 10),
        Flag("step_schedule_2", 11),
        Flag("power_hold", 12),  # Q/GDW 1354 addition
    )),
    4: Flags("status word 4 (phase A faults)", 2, _PHASE_FAULTS),
    5: Flags("status word 5 (phase B faults)", 2, _PHASE_FAULTS),
    6: Flags("status word 6 (phase C faults)", 2, _PHASE_FAULTS),
    7: Flags("status word 7 (combined faults)", 2, (
        Flag("voltage_reverse_sequence", 0),
        Flag("current_reverse_sequence", 1),
        Flag("voltage_imbalance", 2),
        Flag("current_imbalance", 3),
        Flag("auxiliary_supply_lost", 4),
        Flag("power_down", 5),
        Flag("demand_over_limit", 6),
        Flag("power_factor_below_limit", 7),
        Flag("current_severe_imbalance", 8),
        # D9..D15 reserved in 2007; makers use some (cover switches, ...): see `raw`
    )),
}

# cover-open event record (03300D01.. meter cover, 03300E01.. terminal cover)
COVER_RECORD = Record("cover-open record", (
    ("start", STAMP6),
    ("end", STAMP6),
    ("forward_active_before", ENERGY),
    ("reverse_active_before", ENERGY),
    ("q1_reactive_before", ENERGY),
    ("q2_reactive_before", ENERGY),
    ("q3_reactive_before", ENERGY),
    ("q4_reactive_before", ENERGY),
    ("forward_active_after", ENERGY),
    ("reverse_active_after", ENERGY),
    ("q1_reactive_after", ENERGY),
    ("q2_reactive_after", ENERGY),
    ("q3_reactive_after", ENERGY),
    ("q4_reactive_after", ENERGY),
))

_ENERGY_KINDS = {
    0x00: ("combined active", "kWh", True),
    0x01: ("forward active", "kWh", False),
    0x02: ("reverse active", "kWh", False),
    0x03: ("combined reactive 1", "kvarh", True),
    0x04: ("combined reactive 2", "kvarh", True),
    0x05: ("quadrant I reactive", "kvarh", False),
    0x06: ("quadrant II reactive", "kvarh", False),
    0x07: ("quadrant III reactive", "kvarh", False),
    0x08: ("quadrant IV reactive", "kvarh", False),
}
MAX_TARIFF = 14
SETTLEMENTS = 12


def _tariff(t: int) -> str:
    return "total" if t == 0 else f"tariff {t}"


def _period(p: int) -> str:
    return "current" if p == 0 else f"settlement -{p}"


def _items_2007() -> list[Item]:
    out: list[Item] = []
    add = out.append
    for kind, (label, unit, signed) in _ENERGY_KINDS.items():
        efmt = ENERGY_SIGNED if signed else ENERGY
        dunit = unit[:-1]  # kWh -> kW, kvarh -> kvar
        dfmt = Record("XX.XXXX YYMMDDhhmm", (
            ("demand", Number("XX.XXXX", 3, signed=signed)),
            ("time", STAMP5),
        ))
        for t in range(MAX_TARIFF + 1):
            for p in range(SETTLEMENTS + 1):
                low = t << 8 | p
                add(Item(kind << 16 | low, f"{label} energy {_tariff(t)}, {_period(p)}", efmt, unit))
                if kind:
                    add(Item(0x01000000 | kind << 16 | low,
                             f"{label} max demand {_tariff(t)}, {_period(p)}", dfmt, dunit))
    phases = ("A", "B", "C")
    for i, ph in enumerate(phases, 1):
        add(Item(0x02010000 | i << 8, f"voltage phase {ph}", Number("XXX.X", 2), "V"))
        add(Item(0x02020000 | i << 8, f"current phase {ph}", Number("XXX.XXX", 3, True), "A"))
        add(Item(0x02070000 | i << 8, f"phase angle {ph}", Number("XXX.X", 2), "°"))
    for i, ph in enumerate(("total", *phases)):
        sfx = "total" if i == 0 else f"phase {ph}"
        add(Item(0x02030000 | i << 8, f"active power {sfx}", Number("XX.XXXX", 3, True), "kW"))
        add(Item(0x02040000 | i << 8, f"reactive power {sfx}", Number("XX.XXXX", 3, True), "kvar"))
        add(Item(0x02050000 | i << 8, f"apparent power {sfx}", Number("XX.XXXX", 3, True), "kVA"))
        add(Item(0x02060000 | i << 8, f"power factor {sfx}", Number("X.XXX", 2, True), ""))
    add(Item(0x02800001, "neutral current", Number("XXX.XXX", 3, True), "A"))
    add(Item(0x02800002, "grid frequency", Number("XX.XX", 2), "Hz"))
    add(Item(0x02800003, "one-minute average active power", Number("XX.XXXX", 3, True), "kW"))
    add(Item(0x02800004, "current active demand", Number("XX.XXXX", 3, True), "kW"))
    add(Item(0x02800005, "current reactive demand", Number("XX.XXXX", 3, True), "kvar"))
    add(Item(0x02800007, "meter temperature", Number("XXX.X", 2, True), "°C"))
    add(Item(0x02800008, "clock battery voltage", Number("XX.XX", 2), "V"))
    add(Item(0x0280000A, "internal battery run time", Number("XXXXXXXX", 4), "min"))
    for base, label in ((0x03300D00, "meter-cover-open"), (0x03300E00, "terminal-cover-open")):
        add(Item(base, f"{label} count", COUNT3, ""))
        for n in range(1, 11):
            add(Item(base | n, f"{label} record -{n}", COVER_RECORD, ""))
    add(Item(0x04000101, "date and weekday", DateWeek(), ""))
    add(Item(0x04000102, "time", Stamp("hhmmss"), ""))
    add(Item(0x04000401, "meter address", Digits("NNNNNNNNNNNN"), ""))
    add(Item(0x04000402, "meter number", Digits("NNNNNNNNNNNN"), ""))
    add(Item(0x04000403, "asset management code", Ascii("A" * 32, 32), ""))
    add(Item(0x04000409, "active constant", Number("XXXXXX", 3), "imp/kWh"))
    add(Item(0x0400040A, "reactive constant", Number("XXXXXX", 3), "imp/kvarh"))
    for n, fmt in STATUS_WORDS.items():
        add(Item(0x04000500 | n, f"status word {n}", fmt, ""))
    return out


_STATUS_1997 = Flags("run status word", 1, (
    Flag("manual_reading", 0),
    Flag("demand_interval_mode", 1),
    Flag("clock_battery_low", 2),
    Flag("reading_battery_low", 3),
    Flag("active_power_reversed", 4),
    Flag("reactive_power_reversed", 5),
))
_GRID_1997 = Flags("grid status word", 1, (
    Flag("phase_a_voltage_lost", 0),
    Flag("phase_b_voltage_lost", 1),
    Flag("phase_c_voltage_lost", 2),
    Flag("phase_a_overvoltage", 4),
    Flag("phase_b_overvoltage", 5),
    Flag("phase_c_overvoltage", 6),
))


def _items_1997() -> list[Item]:
    out: list[Item] = []
    add = out.append

    def it(di, name, fmt, unit=""):
        add(Item(di, name, fmt, unit, "1997"))

    energy = (
        (0x901, "forward active", "kWh"), (0x902, "reverse active", "kWh"),
        (0x911, "forward reactive", "kvarh"), (0x912, "reverse reactive", "kvarh"),
    )
    for base, label, unit in energy:
        for month, when in ((0x000, "current"), (0x040, "last month")):
            for t in range(5):
                it((base + month) << 4 | t, f"{label} energy {_tariff(t)}, {when}", ENERGY, unit)
                it(((base + month) << 4 | t) + 0x1000, f"{label} max demand {_tariff(t)}, {when}",
                   Number("XX.XXXX", 3), unit[:-1])
                it(((base + month) << 4 | t) + 0x2000, f"{label} max demand time {_tariff(t)}, {when}",
                   MonthDayTime())
    for i, ph in enumerate("ABC", 1):
        it(0xB610 | i, f"voltage phase {ph}", Number("XXX", 2), "V")
        it(0xB620 | i, f"current phase {ph}", Number("XX.XX", 2), "A")
    for i, ph in enumerate(("total", "A", "B", "C")):
        sfx = "total" if i == 0 else f"phase {ph}"
        it(0xB630 | i, f"active power {sfx}", Number("XX.XXXX", 3), "kW")
        it(0xB640 | i, f"reactive power {sfx}", Number("XX.XX", 2), "kvar")
        it(0xB650 | i, f"power factor {sfx}", Number("X.XXX", 2), "")
    it(0xC010, "date and weekday", DateWeek())
    it(0xC011, "time", Stamp("hhmmss"))
    it(0xC020, "run status word", _STATUS_1997)
    it(0xC021, "grid status word", _GRID_1997)
    it(0xC030, "active constant", Number("XXXXXX", 3), "imp/kWh")
    it(0xC031, "reactive constant", Number("XXXXXX", 3), "imp/kvarh")
    it(0xC032, "meter number", Digits("NNNNNNNNNNNN"))
    it(0xC033, "user number", Digits("NNNNNNNNNNNN"))
    it(0xC034, "device code", Digits("NNNNNNNNNNNN"))
    return out


class ItemTable:
    """DI -> Item for one edition, plus block expansion and the seal item."""

    def __init__(self, items, version: str, seal: SealItemSpec | None = None):
        self.version = version
        self.items: dict[int, Item] = {i.di: i for i in items}
        self.seal = seal
        if seal is not None:
            self.items[seal.di] = Item(seal.di, seal.name, seal.format(), "", version)

    def __contains__(self, di: int) -> bool:
        return di in self.items

    def __len__(self) -> int:
        return len(self.items)

    def get(self, di: int) -> Item | None:
        return self.items.get(di)

    def block(self, di: int) -> list[Item] | None:
        """Element items of a block DI, in order, or None if `di` is not a block
        of known items. Only the first element need be known: the meter decides
        how many follow (e.g. how many tariffs it has)."""
        if self.version == "2007":
            shifts = [s for s in (0, 8, 16) if di >> s & 0xFF == 0xFF]
            step_mask = 0xFF
        else:
            shifts = [0] if di & 0xF == 0xF else []
            step_mask = 0xF
        if len(shifts) != 1:
            return None
        s = shifts[0]
        base = di & ~(step_mask << s)
        found = [self.items.get(base | v << s) for v in range(step_mask)]
        first = next((i for i, x in enumerate(found) if x is not None), None)
        if first is None:
            return None
        fmt = found[first].fmt
        out = []
        for x in found[first:]:
            if x is None or x.fmt.size != fmt.size:
                break
            out.append(x)
        return out

    def decode(self, di: int, data: bytes):
        """(item or None, value) for the data of a read reply."""
        item = self.items.get(di)
        if item is not None:
            return item, item.fmt.decode(data)
        elements = self.block(di)
        if elements:
            size = elements[0].fmt.size
            n = len(data) // size
            if len(data) % size or n > len(elements):
                raise DecodeError(
                    f"block {di:X}: {len(data)} bytes is not a whole number of "
                    f"{size}-byte elements (at most {len(elements)})"
                )
            return None, {
                e.di_hex: e.fmt.decode(data[k * size : (k + 1) * size])
                for k, e in enumerate(elements[:n])
            }
        return None, Hex().decode(data)

    def encode(self, di: int, value) -> bytes:
        item = self.items.get(di)
        if item is not None:
            return item.fmt.encode(value)
        elements = self.block(di)
        if elements and isinstance(value, dict):
            by_hex = {e.di_hex: e for e in elements}
            return b"".join(by_hex[k].fmt.encode(v) for k, v in value.items())
        return Hex().encode(value)


@lru_cache(maxsize=32)
def item_table(version: str = "2007", seal: SealItemSpec | None = DEFAULT_SEAL_SPEC) -> ItemTable:
    """The table for an edition, with the given seal spec (None: no seal item)."""
    if version == "2007":
        return ItemTable(_items_2007(), "2007", seal)
    if version == "1997":
        return ItemTable(_items_1997(), "1997", None)
    raise ValueError(f"unknown DL/T 645 version {version!r}")


ITEMS_2007 = item_table("2007")
ITEMS_1997 = item_table("1997")
