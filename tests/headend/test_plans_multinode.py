"""Read plans with several head-ends: each runs every slot for the buses it holds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection

SLOT = datetime(2025, 3, 1, 4, 15, tzinfo=UTC)


@pytest.fixture
def field(site):
    """Two collectors, two meters on each, and a 15-minute plan over all four."""
    from meterhub.assets.models import Collector, Meter
    from meterhub.comms.models import ReadPlan

    for n, reg in enumerate(("REG-A", "REG-B"), start=1):
        collector = Collector.objects.create(code=f"DTU-{n}", site=site, registration_id=reg)
        for m in (1, 2):
            Meter.objects.create(serial=f"E{n}{m}", site=site, address=f"{n}{m:011d}", collector=collector,
                                 protocol="dlt645_2007")
    return ReadPlan.objects.create(name="Every 15 minutes", cron="*/15 * * * *", site=site, jitter_s=0,
                                   kind="electricity")


def test_each_node_keeps_its_own_last_slot(field):
    from meterhub.comms.models import ReadPlan, ReadPlanRun
    from meterhub.comms.plans import load_plans, mark_run

    (spec,) = load_plans("node-a")
    assert spec.last_slot is None and spec.meters == {"E11", "E12", "E21", "E22"}
    mark_run(field.pk, SLOT, "node-a")
    assert [p.last_slot for p in load_plans("node-a")] == [SLOT]
    assert [p.last_slot for p in load_plans("node-b")] == [None]  # node-b still has this slot to run
    assert ReadPlan.objects.get().last_slot == SLOT

    mark_run(field.pk, SLOT - timedelta(minutes=15), "node-b")  # a node behind the others
    assert [p.last_slot for p in load_plans("node-b")] == [SLOT - timedelta(minutes=15)]
    assert ReadPlan.objects.get().last_slot == SLOT  # "last run by any node" does not go back
    mark_run(field.pk, SLOT + timedelta(minutes=15), "node-b")
    assert ReadPlan.objects.get().last_slot == SLOT + timedelta(minutes=15)
    assert ReadPlanRun.objects.count() == 2


def test_load_plans_and_mark_run_keep_their_one_argument_forms(field):
    from meterhub.comms.plans import load_plans, mark_run

    mark_run(field.pk, SLOT)
    assert [p.last_slot for p in load_plans()] == [SLOT]
    mark_run(field.pk + 1000, SLOT, "node-a")  # a plan deleted since it was loaded: nothing to mark


@pytest.mark.django_db(transaction=True)  # the head-ends' database threads need to see the rows
def test_two_headends_each_read_their_own_buses_in_the_same_slot(field):
    from django.db import connections

    from meterhub.comms.fleet import load_fleet
    from meterhub.comms.plans import load_plans, mark_run
    from meterhub.headend.schedule import Scheduler
    from meterhub.headend.server import HeadEnd
    from meterhub.headend.sink import BatchSink

    class Live:
        closed = False

        async def close(self):
            self.closed = True

    reads: list[tuple[str, str]] = []

    def headend_holding(node: str, reg: str) -> HeadEnd:
        headend = HeadEnd(load_fleet, BatchSink(lambda batch: None), node=node,
                          thread_finalizer=connections.close_all)
        headend.sessions[(reg, 1)] = Live()  # this node holds this collector's bus

        async def read_meter(serial, dis, *, source="on_demand", ts=None):
            assert ts == SLOT and source == "scheduled"
            reads.append((node, serial))
            return dict.fromkeys(dis, 1)

        headend.read_meter = read_meter
        return headend

    async def scenario():
        headends = [headend_holding("node-a", "REG-A"), headend_holding("node-b", "REG-B")]
        try:
            schedulers = []
            for headend in headends:
                await headend.refresh_fleet()
                schedulers.append(Scheduler(headend, load_plans, mark_run, clock=lambda: SLOT + timedelta(seconds=3)))
            started = [await s.tick() for s in schedulers]
            results = [await task for tasks in started for task in tasks]
            again = [await s.tick() for s in schedulers]
            return started, results, again
        finally:
            for headend in headends:
                await headend.close()

    started, results, again = asyncio.run(scenario())
    assert [len(tasks) for tasks in started] == [1, 1]  # both nodes run the slot
    assert results == [2, 2]
    assert sorted(reads) == [("node-a", "E11"), ("node-a", "E12"), ("node-b", "E21"), ("node-b", "E22")]
    assert again == [[], []]  # and each only once


def test_the_daily_preset_says_what_it_reads_and_reads_it_near_midnight(site):
    from meterhub.comms.models import ReadPlan
    from meterhub.comms.plans import DEFAULT_PLANS, ensure_default_plans

    daily = [p for p in DEFAULT_PLANS if p[2] == ReadPlan.Items.DAILY]
    assert len(daily) == 1 and daily[0][1] == "0 0 * * *" and daily[0][3] <= 60
    assert "freeze" not in str(ReadPlan.Items.DAILY.label).lower()
    assert "live energy registers" in str(ReadPlan.Items.DAILY.label)
    ensure_default_plans(site)
    assert ReadPlan.objects.get(items=ReadPlan.Items.DAILY).jitter_s <= 60


def test_the_migration_shortens_only_the_old_default_daily_spread(site):
    import importlib

    from django.apps import apps

    from meterhub.comms.models import ReadPlan

    migration = importlib.import_module("meterhub.comms.migrations.0005_plan_runs_per_node")
    old = ReadPlan.objects.create(name="old daily", cron="0 0 * * *", items="daily", jitter_s=900)
    chosen = ReadPlan.objects.create(name="chosen daily", cron="0 0 * * *", items="daily", jitter_s=30)
    instant = ReadPlan.objects.create(name="instant", cron="*/15 * * * *", items="instant", jitter_s=900)
    migration.shorten_daily_jitter(apps, SimpleNamespace(connection=connection))
    assert [ReadPlan.objects.get(pk=p.pk).jitter_s for p in (old, chosen, instant)] == [60, 30, 900]


def test_the_migration_changes_the_database_being_migrated_not_the_default_one(site):
    """`migrate --database other` runs the data step on `other` (the default database
    may not even have the table yet)."""
    import importlib

    from django.apps import apps
    from django.utils.connection import ConnectionDoesNotExist

    migration = importlib.import_module("meterhub.comms.migrations.0005_plan_runs_per_node")
    other = SimpleNamespace(connection=SimpleNamespace(alias="not_the_default"))
    with pytest.raises(ConnectionDoesNotExist):
        migration.shorten_daily_jitter(apps, other)
