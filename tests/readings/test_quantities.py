"""Readings vocabulary."""
from meterhub.readings.quantities import label


def test_quantity_labels_name_the_tariff():
    assert label("energy_import_t2") == "Active energy imported (peak)"
    assert label("voltage_a") == "Voltage, phase A"
    assert label("something_new") == "something_new"
