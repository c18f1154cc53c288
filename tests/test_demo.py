from meterhub.assets.demo import load_demo_site
from meterhub.assets.models import Collector, Customer, Meter, MeterInstallation, Tenancy


def test_demo_site_has_over_100_meters_and_loads_once(db):
    assert load_demo_site() is True
    counts = (Meter.objects.count(), Collector.objects.count(), Customer.objects.count())
    assert counts[0] >= 100
    assert MeterInstallation.objects.filter(valid_to__isnull=True).count() == counts[0]
    assert Tenancy.objects.count() == counts[2]
    assert Meter.objects.filter(ct_ratio=50, phase="three").exists()
    assert load_demo_site() is False
    assert (Meter.objects.count(), Collector.objects.count(), Customer.objects.count()) == counts
