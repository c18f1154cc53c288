"""Read plans as the head-end's scheduler sees them."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from meterhub.assets.models import Meter
from meterhub.comms.models import ReadPlan, ReadPlanRun
from meterhub.headend.schedule import PlanSpec

DAILY_JITTER_S = 60  # the daily plan reads live registers: read them close to midnight

DEFAULT_PLANS = [  # (name, cron, items, jitter seconds, meter kind)
    ("Instantaneous values", "*/15 * * * *", ReadPlan.Items.INSTANT, 120, "electricity"),
    ("Daily freeze", "0 0 * * *", ReadPlan.Items.DAILY, DAILY_JITTER_S, "electricity"),
    ("Water meters", "5 * * * *", ReadPlan.Items.INSTANT, 300, "water"),
    ("Gas meters", "5 * * * *", ReadPlan.Items.INSTANT, 300, "gas"),
    ("Clock check", "30 2 * * *", ReadPlan.Items.CLOCK, 1800, "electricity"),
]


def load_plans(node: str = "") -> list[PlanSpec]:
    """Enabled plans, each with the last slot `node` ran it for (not another head-end's)."""
    runs = dict(ReadPlanRun.objects.filter(node=node).values_list("plan_id", "last_slot"))
    specs = []
    for plan in ReadPlan.objects.filter(enabled=True).select_related("site"):
        meters = Meter.objects.filter(active=True, collector__isnull=False)
        if plan.site_id:
            meters = meters.filter(site_id=plan.site_id)
        if plan.kind:
            meters = meters.filter(kind=plan.kind)
        specs.append(PlanSpec(plan.pk, plan.name, plan.cron, plan.site.time_zone if plan.site else "UTC",
                              plan.items, plan.jitter_s, frozenset(meters.values_list("serial", flat=True)),
                              runs.get(plan.pk)))
    return specs


def mark_run(plan_id: int, slot: datetime, node: str = "") -> None:
    """`node` runs the plan for `slot`; the plan's own last_slot is the latest of any node."""
    with transaction.atomic():
        if not ReadPlan.objects.filter(pk=plan_id).exists():
            return  # deleted since it was loaded
        ReadPlanRun.objects.update_or_create(plan_id=plan_id, node=node, defaults={"last_slot": slot})
        ReadPlan.objects.filter(Q(last_slot__isnull=True) | Q(last_slot__lt=slot), pk=plan_id).update(
            last_slot=slot)


def ensure_default_plans(site) -> None:
    for name, cron, items, jitter, kind in DEFAULT_PLANS:
        ReadPlan.objects.get_or_create(name=f"{name} ({site.code})",
                                       defaults={"cron": cron, "items": items, "site": site, "jitter_s": jitter,
                                                 "kind": kind})
