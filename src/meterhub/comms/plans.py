"""Read plans as the head-end's scheduler sees them."""

from __future__ import annotations

from datetime import datetime

from meterhub.assets.models import Meter
from meterhub.comms.models import ReadPlan
from meterhub.headend.schedule import PlanSpec

DEFAULT_PLANS = [  # (name, cron, items, jitter seconds, meter kind)
    ("Instantaneous values", "*/15 * * * *", ReadPlan.Items.INSTANT, 120, "electricity"),
    ("Daily freeze", "0 0 * * *", ReadPlan.Items.DAILY, 900, "electricity"),
    ("Water meters", "5 * * * *", ReadPlan.Items.INSTANT, 300, "water"),
    ("Gas meters", "5 * * * *", ReadPlan.Items.INSTANT, 300, "gas"),
    ("Clock check", "30 2 * * *", ReadPlan.Items.CLOCK, 1800, "electricity"),
]


def load_plans() -> list[PlanSpec]:
    specs = []
    for plan in ReadPlan.objects.filter(enabled=True).select_related("site"):
        meters = Meter.objects.filter(active=True, collector__isnull=False)
        if plan.site_id:
            meters = meters.filter(site_id=plan.site_id)
        if plan.kind:
            meters = meters.filter(kind=plan.kind)
        specs.append(PlanSpec(plan.pk, plan.name, plan.cron, plan.site.time_zone if plan.site else "UTC",
                              plan.items, plan.jitter_s, frozenset(meters.values_list("serial", flat=True)),
                              plan.last_slot))
    return specs


def mark_run(plan_id: int, slot: datetime) -> None:
    ReadPlan.objects.filter(pk=plan_id).update(last_slot=slot)


def ensure_default_plans(site) -> None:
    for name, cron, items, jitter, kind in DEFAULT_PLANS:
        ReadPlan.objects.get_or_create(name=f"{name} ({site.code})",
                                       defaults={"cron": cron, "items": items, "site": site, "jitter_s": jitter,
                                                 "kind": kind})
