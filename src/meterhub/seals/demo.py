"""Seals for the demo site: one smart seal on the meter cover of every DL/T 645-2007 meter,
so `meterhub simulate tamper --kind seal-open` raises a seal alarm in the console."""

from __future__ import annotations

from django.db import transaction

from meterhub.seals import custody
from meterhub.seals.models import Seal


@transaction.atomic
def load_demo_seals(site_code: str, technician) -> int:
    """Install demo smart seals unless the site has seals already; returns how many."""
    from meterhub.assets.models import Meter

    if Seal.objects.filter(meter__site__code=site_code).exists():
        return 0
    meters = list(Meter.objects.filter(site__code=site_code, active=True, protocol="dlt645_2007", kind="electricity")
                  .order_by("serial"))
    if not meters:
        return 0
    where = custody.Where(technician, location="demo")
    batch = custody.receive_batch(f"DEMO-{site_code}", "smart", 1, len(meters), where, prefix="SM")
    serials = [batch.serial(n) for n in range(1, len(meters) + 1)]
    custody.issue(serials, technician, where)
    for serial, meter in zip(serials, meters, strict=True):
        custody.install(serial, where, meter=meter, position="meter_cover", job="DEMO")
    return len(meters)


def chip_assets(site_code: str) -> dict[str, str]:
    """Meter serial -> the asset number its simulated chip must report."""
    return dict(Seal.objects.filter(meter__site__code=site_code, state="installed", seal_type="smart")
                .values_list("meter__serial", "chip_asset"))
