"""Names people read for the stored quantity codes."""

from django.utils.translation import gettext_lazy as _

TARIFFS = {1: _("sharp"), 2: _("peak"), 3: _("flat"), 4: _("valley")}

LABELS = {
    "energy_import": _("Active energy imported"),
    "energy_export": _("Active energy exported"),
    "energy_combined": _("Combined active energy"),
    "voltage_a": _("Voltage, phase A"), "voltage_b": _("Voltage, phase B"), "voltage_c": _("Voltage, phase C"),
    "current_a": _("Current, phase A"), "current_b": _("Current, phase B"), "current_c": _("Current, phase C"),
    "power_active": _("Active power"),
    "power_reactive": _("Reactive power"),
    "power_factor": _("Power factor"),
    "frequency": _("Frequency"),
    "gas_volume": _("Gas volume"),
    "gas_energy": _("Gas energy"),
    "water_volume": _("Water volume"),
}


def label(quantity: str) -> str:
    """`energy_import_t2` -> "Active energy imported (peak)"."""
    base, _sep, tariff = quantity.rpartition("_t")
    if base in LABELS and tariff.isdigit() and int(tariff) in TARIFFS:
        return f"{LABELS[base]} ({TARIFFS[int(tariff)]})"
    return str(LABELS.get(quantity, quantity))


def _units() -> dict[str, str]:
    units = {"voltage_a": "V", "voltage_b": "V", "voltage_c": "V", "current_a": "A", "current_b": "A",
             "current_c": "A", "power_active": "kW", "power_reactive": "kvar", "power_factor": "",
             "frequency": "Hz", "gas_volume": "m3", "gas_energy": "kWh", "water_volume": "m3"}
    for base in ("energy_import", "energy_export", "energy_combined"):
        units[base] = "kWh"
        units.update({f"{base}_t{t}": "kWh" for t in TARIFFS})
    return units


UNITS = _units()  # every quantity the store knows, with its unit


def is_known(quantity: str) -> bool:
    return quantity in UNITS
