"""Which registers are aggregated, per kind of meter."""

from meterhub.assets.models import MeterKind

TARIFF_REGISTERS = tuple(f"energy_import_t{t}" for t in range(1, 5))  # consumption per tariff period
REGISTERS = {
    MeterKind.ELECTRICITY: ("energy_import", *TARIFF_REGISTERS, "energy_export"),
    MeterKind.WATER: ("water_volume",),
    MeterKind.GAS: ("gas_volume",),
}
# The register building and site totals add up, one per utility.
MAIN = {MeterKind.ELECTRICITY: "energy_import", MeterKind.WATER: "water_volume", MeterKind.GAS: "gas_volume"}
UNITS = {MeterKind.ELECTRICITY: "kWh", MeterKind.WATER: "m³", MeterKind.GAS: "m³"}


def registers_of(kind: str) -> tuple[str, ...]:
    return REGISTERS.get(kind, ())
