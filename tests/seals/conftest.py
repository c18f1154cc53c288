from __future__ import annotations

import pytest


@pytest.fixture
def meter(site, collector):
    from meterhub.assets.models import Meter

    return Meter.objects.create(serial="E240101000001", site=site, address="240101000001", collector=collector)


@pytest.fixture
def tech(make_operator):
    return make_operator("technician", "tina")


@pytest.fixture
def storekeeper(make_operator):
    return make_operator("administrator", "sam")


@pytest.fixture
def batch(storekeeper):
    from meterhub.seals import custody

    return custody.receive_batch("B-2026-01", "smart", 1, 10, custody.Where(storekeeper), prefix="S")
