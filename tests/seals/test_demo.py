"""The demo site's smart seals match the simulated chips, so the demo raises no false alarm."""

from __future__ import annotations

from meterhub.assets.demo import SITE_CODE, load_demo_site
from meterhub.demo_field import fleet_for_site
from meterhub.protocols.dlt645.seal import DEFAULT_SEAL_SPEC
from meterhub.seals.chips import same_chip
from meterhub.seals.demo import load_demo_seals
from meterhub.seals.models import Seal
from meterhub.sim.fleet import default_meter_factory, parse_fleet


def test_demo_seals_are_installed_once_and_the_simulated_chips_report_them(db, make_operator):
    load_demo_site()
    admin = make_operator("administrator", "demo")
    installed = load_demo_seals(SITE_CODE, admin)
    assert installed > 100 and Seal.objects.filter(state="installed", code__startswith="MS1:").count() == installed
    assert load_demo_seals(SITE_CODE, admin) == 0
    spec = parse_fleet(fleet_for_site(SITE_CODE, headend=("127.0.0.1", 9100)))
    make = default_meter_factory(spec.seed)
    seal = Seal.objects.select_related("meter").first()
    meter_spec = next(m for c in spec.collectors for b in c.buses for m in b.meters if m.serial == seal.meter.serial)
    chip = make(meter_spec).seal.status(DEFAULT_SEAL_SPEC)
    assert same_chip(seal.chip_asset, chip.asset_number)
