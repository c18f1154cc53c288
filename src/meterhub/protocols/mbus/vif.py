"""VIF/VIFE tables (EN 13757-3 tables 10-14), precomputed as dicts once at import.

Every unit is converted to one canonical unit per quantity, so callers never see
"10 Wh" or "100 l": energy in kWh (or MJ for joule-based VIFs), power in kW (MJ/h),
volume in m3, flow in m3/h, mass in kg, durations in s (months and years stay as
such: their length in seconds is not constant). A VIF entry is
``(quantity, unit, exponent, multiplier)``; value = raw * multiplier * 10**exponent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

Entry = tuple[str, str, int, int]

_S_MULT = (1, 60, 3600, 86400)  # nn = seconds, minutes, hours, days

PRIMARY: dict[int, Entry] = {}
for _n in range(8):
    PRIMARY[0x00 + _n] = ("energy", "kWh", _n - 6, 1)  # 10^(n-3) Wh
    PRIMARY[0x08 + _n] = ("energy", "MJ", _n - 6, 1)  # 10^n J
    PRIMARY[0x10 + _n] = ("volume", "m3", _n - 6, 1)
    PRIMARY[0x18 + _n] = ("mass", "kg", _n - 3, 1)
    PRIMARY[0x28 + _n] = ("power", "kW", _n - 6, 1)  # 10^(n-3) W
    PRIMARY[0x30 + _n] = ("power", "MJ/h", _n - 6, 1)  # 10^n J/h
    PRIMARY[0x38 + _n] = ("volume_flow", "m3/h", _n - 6, 1)
    PRIMARY[0x40 + _n] = ("volume_flow", "m3/h", _n - 7, 60)  # 10^(n-7) m3/min
    PRIMARY[0x48 + _n] = ("volume_flow", "m3/h", _n - 9, 3600)  # 10^(n-9) m3/s
    PRIMARY[0x50 + _n] = ("mass_flow", "kg/h", _n - 3, 1)
for _n in range(4):
    PRIMARY[0x20 + _n] = ("on_time", "s", 0, _S_MULT[_n])
    PRIMARY[0x24 + _n] = ("operating_time", "s", 0, _S_MULT[_n])
    PRIMARY[0x58 + _n] = ("flow_temperature", "°C", _n - 3, 1)
    PRIMARY[0x5C + _n] = ("return_temperature", "°C", _n - 3, 1)
    PRIMARY[0x60 + _n] = ("temperature_difference", "K", _n - 3, 1)
    PRIMARY[0x64 + _n] = ("external_temperature", "°C", _n - 3, 1)
    PRIMARY[0x68 + _n] = ("pressure", "bar", _n - 3, 1)
    PRIMARY[0x70 + _n] = ("averaging_duration", "s", 0, _S_MULT[_n])
    PRIMARY[0x74 + _n] = ("actuality_duration", "s", 0, _S_MULT[_n])
PRIMARY.update({
    0x6C: ("date", "", 0, 1),  # data type G
    0x6D: ("datetime", "", 0, 1),  # data type F (or I / J by length)
    0x6E: ("hca_units", "", 0, 1),
    0x6F: ("reserved", "", 0, 1),
    0x78: ("fabrication_number", "", 0, 1),
    0x79: ("enhanced_identification", "", 0, 1),
    0x7A: ("bus_address", "", 0, 1),
    0x7E: ("any", "", 0, 1),
    0x7F: ("manufacturer_specific", "", 0, 1),
})

# VIF FDh: main extension table (EN 13757-3 table 14)
EXT_FD: dict[int, Entry] = {}
for _n in range(4):
    EXT_FD[0x00 + _n] = ("credit", "currency", _n - 3, 1)
    EXT_FD[0x04 + _n] = ("debit", "currency", _n - 3, 1)
    EXT_FD[0x24 + _n] = ("storage_interval", "s", 0, _S_MULT[_n])
    EXT_FD[0x2C + _n] = ("duration_since_last_readout", "s", 0, _S_MULT[_n])
    EXT_FD[0x34 + _n] = ("period_of_tariff", "s", 0, _S_MULT[_n])
for _n in range(1, 4):
    EXT_FD[0x30 + _n] = ("duration_of_tariff", "s", 0, _S_MULT[_n])
for _n in range(16):
    EXT_FD[0x40 + _n] = ("voltage", "V", _n - 9, 1)
    EXT_FD[0x50 + _n] = ("current", "A", _n - 12, 1)
for _code, _name in enumerate((
    "access_number", "medium", "manufacturer", "parameter_set_id", "model_version",
    "hardware_version", "firmware_version", "software_version", "customer_location",
    "customer", "access_code_user", "access_code_operator", "access_code_system_operator",
    "access_code_developer", "password", "error_flags", "error_mask", "reserved",
    "digital_output", "digital_input", "baudrate", "response_delay_time", "retry",
    "remote_control", "first_storage_number", "last_storage_number", "storage_block_size",
), start=0x08):
    EXT_FD[_code] = (_name, "", 0, 1)
EXT_FD[0x1C] = ("baudrate", "Bd", 0, 1)
EXT_FD[0x1D] = ("response_delay_time", "bit_times", 0, 1)
EXT_FD.update({
    0x23: ("reserved", "", 0, 1),
    0x28: ("storage_interval", "month", 0, 1),
    0x29: ("storage_interval", "year", 0, 1),
    0x2A: ("reserved", "", 0, 1),
    0x2B: ("reserved", "", 0, 1),
    0x30: ("start_of_tariff", "", 0, 1),
    0x38: ("period_of_tariff", "month", 0, 1),
    0x39: ("period_of_tariff", "year", 0, 1),
    0x3A: ("dimensionless", "", 0, 1),
    0x60: ("reset_counter", "", 0, 1),
    0x61: ("cumulation_counter", "", 0, 1),
    0x62: ("control_signal", "", 0, 1),
    0x63: ("day_of_week", "", 0, 1),
    0x64: ("week_number", "", 0, 1),
    0x65: ("time_point_of_day_change", "", 0, 1),
    0x66: ("state_of_parameter_activation", "", 0, 1),
    0x67: ("special_supplier_information", "", 0, 1),
    0x68: ("duration_since_last_cumulation", "s", 0, 3600),
    0x69: ("duration_since_last_cumulation", "s", 0, 86400),
    0x6A: ("duration_since_last_cumulation", "month", 0, 1),
    0x6B: ("duration_since_last_cumulation", "year", 0, 1),
    0x6C: ("operating_time_battery", "s", 0, 3600),
    0x6D: ("operating_time_battery", "s", 0, 86400),
    0x6E: ("operating_time_battery", "month", 0, 1),
    0x6F: ("operating_time_battery", "year", 0, 1),
    0x70: ("battery_change_datetime", "", 0, 1),
    0x71: ("rf_level", "dBm", 0, 1),
    0x72: ("daylight_saving", "", 0, 1),
    0x73: ("listening_window", "", 0, 1),
    0x74: ("remaining_battery_lifetime", "s", 0, 86400),
    0x75: ("meter_stopped_count", "", 0, 1),
    0x76: ("manufacturer_protocol_container", "", 0, 1),
})

# VIF FBh: alternate extension table (EN 13757-3 table 13)
EXT_FB: dict[int, Entry] = {
    0x00: ("energy", "kWh", 2, 1),  # 0.1 MWh
    0x01: ("energy", "kWh", 3, 1),
    0x08: ("energy", "MJ", 2, 1),  # 0.1 GJ
    0x09: ("energy", "MJ", 3, 1),
    0x10: ("volume", "m3", 2, 1),
    0x11: ("volume", "m3", 3, 1),
    0x18: ("mass", "kg", 5, 1),  # 100 t
    0x19: ("mass", "kg", 6, 1),
    0x21: ("volume", "ft3", -1, 1),
    0x22: ("volume", "US_gal", -1, 1),
    0x23: ("volume", "US_gal", 0, 1),
    0x24: ("volume_flow", "US_gal/min", -3, 1),
    0x25: ("volume_flow", "US_gal/min", 0, 1),
    0x26: ("volume_flow", "US_gal/h", 0, 1),
    0x28: ("power", "kW", 2, 1),  # 0.1 MW
    0x29: ("power", "kW", 3, 1),
    0x30: ("power", "MJ/h", 2, 1),  # 0.1 GJ/h
    0x31: ("power", "MJ/h", 3, 1),
}
for _n in range(4):
    EXT_FB[0x58 + _n] = ("flow_temperature", "°F", _n - 3, 1)
    EXT_FB[0x5C + _n] = ("return_temperature", "°F", _n - 3, 1)
    EXT_FB[0x60 + _n] = ("temperature_difference", "°F", _n - 3, 1)
    EXT_FB[0x64 + _n] = ("external_temperature", "°F", _n - 3, 1)
    EXT_FB[0x70 + _n] = ("temperature_limit", "°F", _n - 3, 1)
    EXT_FB[0x74 + _n] = ("temperature_limit", "°C", _n - 3, 1)
for _n in range(8):
    EXT_FB[0x78 + _n] = ("cumulative_max_power", "kW", _n - 6, 1)

# Combinable (orthogonal) VIFE, EN 13757-3 table 15: the ones that change meaning
COMBINABLE: dict[int, str] = {
    0x20: "per_second", 0x21: "per_minute", 0x22: "per_hour", 0x23: "per_day",
    0x24: "per_week", 0x25: "per_month", 0x26: "per_year", 0x27: "per_revolution",
    0x28: "per_input_pulse_0", 0x29: "per_input_pulse_1", 0x2A: "per_output_pulse_0",
    0x2B: "per_output_pulse_1", 0x2C: "per_litre", 0x2D: "per_m3", 0x2E: "per_kg",
    0x2F: "per_kelvin", 0x30: "per_kwh", 0x31: "per_gj", 0x32: "per_kw",
    0x33: "per_kelvin_litre", 0x34: "per_volt", 0x35: "per_ampere", 0x36: "times_s",
    0x37: "times_s_per_v", 0x38: "times_s_per_a", 0x39: "start_datetime_of",
    0x3A: "uncorrected", 0x3B: "forward", 0x3C: "backward", 0x3E: "value_at_base_conditions",
    0x3F: "obis_declaration",
    0x40: "lower_limit", 0x48: "upper_limit", 0x41: "lower_limit_exceeded_count",
    0x49: "upper_limit_exceeded_count", 0x6F: "future_value", 0x7D: "times_1000",
    0x7E: "next_vife_manufacturer_specific",
}
for _code in range(0x00, 0x20):
    COMBINABLE[_code] = f"record_error_{_code:02x}"

# VIFs whose data is a time point: decoded by length (2 = G, 3 = J, 4 = F, 6 = I)
TIME_QUANTITIES = frozenset({"date", "datetime", "start_of_tariff", "battery_change_datetime"})
# bit fields: the integer is unsigned, never a negative count
UNSIGNED_QUANTITIES = frozenset({
    "error_flags", "error_mask", "digital_output", "digital_input", "fabrication_number",
    "enhanced_identification", "bus_address", "parameter_set_id",
    "model_version", "hardware_version", "firmware_version", "software_version", "medium",
    "manufacturer", "access_number", "customer", "customer_location", "password",
})


@dataclass(frozen=True, slots=True)
class ValueInfo:
    """A decoded VIB. Equality is on the wire bytes; the rest is derived from them."""

    vif: int
    vifes: tuple[int, ...] = ()
    plain_text: str | None = None
    quantity: str = field(default="", compare=False)
    unit: str = field(default="", compare=False)
    exponent: int = field(default=0, compare=False)
    multiplier: int = field(default=1, compare=False)
    offset_exponent: int | None = field(default=None, compare=False)
    modifiers: tuple[str, ...] = field(default=(), compare=False)
    # precomputed for the decode loop (plain attribute reads, no set lookups per record)
    is_time: bool = field(default=False, compare=False)
    signed: bool = field(default=True, compare=False)

    @property
    def unsigned(self) -> bool:
        return not self.signed

    def encode(self) -> bytes:
        out = bytearray((self.vif,))
        if self.plain_text is not None:
            text = self.plain_text.encode("latin-1")[::-1]
            out.append(len(text))
            out += text
        out += bytes(self.vifes)
        return bytes(out)

    def to_dict(self) -> dict:
        d = {"quantity": self.quantity, "unit": self.unit}
        if self.modifiers:
            d["modifiers"] = list(self.modifiers)
        return d


@lru_cache(maxsize=4096)
def value_info(vif: int, vifes: tuple[int, ...] = (), plain_text: str | None = None) -> ValueInfo:
    """Interpret a VIB. Cached: a meter sends the same few VIBs in every telegram."""
    code = vif & 0x7F
    rest = vifes
    if code == 0x7D or code == 0x7B:
        table = EXT_FD if code == 0x7D else EXT_FB
        if vifes:
            ext = vifes[0] & 0x7F
            quantity, unit, exponent, mult = table.get(ext, ("reserved", "", 0, 1))
            rest = vifes[1:]
        else:  # the extension byte is missing: the VIF says nothing
            quantity, unit, exponent, mult = ("reserved", "", 0, 1)
    elif code == 0x7C:
        quantity, unit, exponent, mult = ("plain_text", plain_text or "", 0, 1)
    else:
        quantity, unit, exponent, mult = PRIMARY.get(code, ("reserved", "", 0, 1))
    offset = None
    mods: list[str] = []
    if code == 0x7F:  # every following VIFE is the manufacturer's
        rest = ()
        mods = [f"vife_{v:02x}" for v in vifes]
    skip_manufacturer = False
    for v in rest:
        if skip_manufacturer:
            mods.append(f"manufacturer_vife_{v:02x}")
            continue
        c = v & 0x7F
        if 0x70 <= c <= 0x77:
            exponent += c - 0x76  # multiplicative correction 10^(nnn-6)
        elif 0x78 <= c <= 0x7B:
            offset = (c & 0x03) - 3  # additive correction 10^(nn-3) of the unit
        elif c == 0x7D:
            exponent += 3
        elif c == 0x7F or c == 0x7E:
            skip_manufacturer = True
            mods.append(COMBINABLE.get(c, "manufacturer_specific"))
        else:
            mods.append(COMBINABLE.get(c, f"vife_{c:02x}"))
    return ValueInfo(vif, tuple(vifes), plain_text, quantity, unit, exponent, mult, offset,
                     tuple(mods), quantity in TIME_QUANTITIES,
                     quantity not in UNSIGNED_QUANTITIES)


NO_VIB = ValueInfo(-1, (), None, "manufacturer_data", "", 0, 1, None, ())
