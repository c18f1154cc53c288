import pytest


@pytest.fixture
def meter(collector):
    from meterhub.assets.models import Meter

    return Meter.objects.create(serial="E1", site=collector.site, address="000000000001", collector=collector)


@pytest.fixture
def other_meter(collector):
    from meterhub.assets.models import Meter

    return Meter.objects.create(serial="E2", site=collector.site, address="000000000002", collector=collector)
