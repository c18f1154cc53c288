"""`make demo` gives a working portal: the household documented in docs/portal.md can bind its
prepaid account, which is cut off through the command queue until it is recharged."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from meterhub.aggregates.models import MeterDay, MeterMonth
from meterhub.assets.demo import SITE_CODE, load_demo_site
from meterhub.billing.models import Account, PaymentProvider
from meterhub.comms.models import Command
from meterhub.portal import binding
from meterhub.portal.demo import load_demo_portal
from meterhub.portal.models import PortalUser

pytestmark = pytest.mark.django_db


def test_the_demo_household_binds_and_is_cut_off_until_it_recharges():
    load_demo_site()
    household = load_demo_portal(SITE_CODE)
    assert (household.phone, household.name, household.id_number) == ("13800000001", "李芳", "110101199001011234")
    electricity = Account.objects.get(number=household.accounts[0])
    assert (electricity.payment_mode, electricity.balance, electricity.supply) == ("prepaid", Decimal("-3.40"), "off")
    assert Command.objects.get().kind == "relay_trip" and electricity.meter.serial == "E240101000001"
    assert PaymentProvider.objects.get().sandbox
    today = timezone.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    days = MeterDay.objects.filter(meter=electricity.meter, quantity="energy_import")
    assert days.filter(day=today - timedelta(days=2)).exists() and not days.filter(day__gte=today - timedelta(1))
    assert MeterMonth.objects.filter(meter=electricity.meter).count() >= 12

    pending = binding.start(PortalUser.objects.create(phone=household.phone), household.accounts[0], household.name,
                            household.id_number)
    assert pending.account == electricity

    assert load_demo_portal(SITE_CODE).accounts == household.accounts  # loading again changes nothing
    assert Command.objects.count() == 1 and Account.objects.get(pk=electricity.pk).balance == Decimal("-3.40")
