"""Meter exchanges and move-ins keep history: one answer for any instant."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from meterhub.accounts.models import AuditEntry
from meterhub.assets import history
from meterhub.assets.models import Customer, Meter, Premise, Site


def t(day, hour=0):
    return datetime(2025, 1, day, hour, tzinfo=UTC)


@pytest.fixture
def flat(site):
    return Premise.objects.create(site=site, unit="101")


def meter(collector, serial, address):
    return Meter.objects.create(serial=serial, site=collector.site, address=address, collector=collector)


def test_exchange_closes_the_old_row_and_opens_the_new_one_at_the_same_instant(collector, flat):
    old, new = meter(collector, "E1", "000000000001"), meter(collector, "E2", "000000000002")
    history.install_meter(old, flat, t(1))
    history.exchange_meter(old, new, t(10))
    assert history.premise_of(old, t(9, 23)) == flat
    assert history.premise_of(old, t(10)) is None
    assert history.premise_of(new, t(10)) == flat
    assert history.premise_of(new, t(9)) is None
    assert old.installations.get().valid_to == t(10)
    assert AuditEntry.objects.filter(action__in=["install", "remove"]).count() == 3


def test_move_out_and_in_give_the_right_customer_for_each_day(collector, flat):
    m = meter(collector, "E1", "000000000001")
    history.install_meter(m, flat, t(1))
    first = Customer.objects.create(account_no="A1", name="First")
    second = Customer.objects.create(account_no="A2", name="Second")
    history.move_in(first, flat, t(1))
    history.move_out(first, flat, t(15))
    history.move_in(second, flat, t(16))
    assert history.served_by(m, t(5)) == (flat, first)
    assert history.served_by(m, t(15, 12)) == (flat, None)  # empty between tenants
    assert history.served_by(m, t(20)) == (flat, second)


def test_a_premise_cannot_have_two_occupants(site, flat):
    a = Customer.objects.create(account_no="A1", name="A")
    b = Customer.objects.create(account_no="A2", name="B")
    history.move_in(a, flat, t(1))
    with pytest.raises(ValidationError, match="occupied"):
        history.move_in(b, flat, t(2))


def test_installing_an_installed_meter_is_refused(collector, flat, site):
    m = meter(collector, "E1", "000000000001")
    other = Premise.objects.create(site=site, unit="102")
    history.install_meter(m, flat, t(1))
    with pytest.raises(ValidationError, match="already installed"):
        history.install_meter(m, other, t(2))


def test_history_cannot_be_rewritten_backwards(collector, flat, site):
    m = meter(collector, "E1", "000000000001")
    history.install_meter(m, flat, t(10))
    with pytest.raises(ValidationError, match="after the installation"):
        history.remove_meter(m, t(5))
    history.remove_meter(m, t(12))
    with pytest.raises(ValidationError, match="must start after"):
        history.install_meter(m, flat, t(11))


def test_meter_and_premise_must_share_a_site(collector):
    elsewhere = Site.objects.create(code="south", name="South")
    premise = Premise.objects.create(site=elsewhere, unit="1")
    with pytest.raises(ValidationError, match="different sites"):
        history.install_meter(meter(collector, "E1", "000000000001"), premise, t(1))


def test_multiplier_is_ct_times_pt(collector):
    from decimal import Decimal

    m = Meter(serial="E9", site=collector.site, address="1", ct_ratio=Decimal("50"), pt_ratio=Decimal("100"))
    assert m.multiplier == Decimal("5000")
    assert m.multiplier_display == "5000"
    assert Meter(ct_ratio=Decimal("0.50"), pt_ratio=Decimal("1.00")).multiplier_display == "0.5"
