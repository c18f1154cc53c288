import pytest


@pytest.fixture
def interval_plan(site):
    from meterhub.comms.models import ReadPlan

    return ReadPlan.objects.create(name="15 min", cron="*/15 * * * *", items=ReadPlan.Items.INSTANT, site=site,
                                   kind="electricity")


@pytest.fixture
def meter(collector, interval_plan):
    from meterhub.assets.models import Meter

    return Meter.objects.create(serial="E1", site=collector.site, address="000000000001", collector=collector)
