"""Kiosk fixtures: a registered terminal (with the key shown at registration), a device paired
with it, and a household whose accounts can be looked up at it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest


@pytest.fixture
def issued(site, make_operator):
    """A registered terminal at `site` and its key, as the console showed it once."""
    from meterhub.kiosk import terminals
    from meterhub.kiosk.models import Terminal

    return terminals.register(Terminal(code="LOBBY-1", name="Lobby", site=site, location="Service hall",
                                       language="en"), actor=make_operator("administrator", username="registrar"))


@pytest.fixture
def terminal(issued):
    return issued.terminal


def paired_cookie(terminal) -> str:
    """The pairing cookie's value as the device holds it after pairing (signed as Django signs it)."""
    from django.core.signing import get_cookie_signer

    from meterhub.kiosk import pairing

    return get_cookie_signer(salt=pairing.COOKIE + pairing.SALT).sign(pairing.cookie_value(terminal))


@pytest.fixture
def kiosk(client, issued):
    """The test client as a device paired with the terminal."""
    from meterhub.kiosk import pairing

    pairing.pair(issued.terminal.code, issued.key)
    client.cookies[pairing.COOKIE] = paired_cookie(issued.terminal)
    return client


@pytest.fixture
def household(site, collector):
    """A prepaid electricity account on a DL/T 645 meter with a relay, a postpaid water account,
    a closed account, and an account at another site."""
    from meterhub.assets.models import Customer, Meter, Site
    from meterhub.billing import ledger
    from meterhub.billing.models import Account, PaymentProvider

    holder = Customer.objects.create(account_no="C-100", name="Li Wei", phone="13800000001", language="en")
    electricity = Meter.objects.create(serial="E100", site=site, address="240101000100", collector=collector,
                                       payment_mode="prepaid", switch="relay")
    water = Meter.objects.create(serial="W100", site=site, address="00000100", collector=collector, kind="water",
                                 protocol="mbus", payment_mode="postpaid")
    old = Meter.objects.create(serial="E099", site=site, address="240101000099", collector=collector)
    prepaid = Account.objects.create(number="C-100-E1", site=site, customer=holder, meter=electricity,
                                     utility="electricity", payment_mode="prepaid", opened_on=date(2026, 1, 1))
    postpaid = Account.objects.create(number="C-100-W1", site=site, customer=holder, meter=water, utility="water",
                                      payment_mode="postpaid", opened_on=date(2026, 1, 1))
    closed = Account.objects.create(number="C-100-E0", site=site, customer=holder, meter=old, utility="electricity",
                                    opened_on=date(2020, 1, 1), closed_on=date(2025, 12, 31))
    elsewhere_site = Site.objects.create(code="south", name="South Park", time_zone="Asia/Shanghai", currency="CNY")
    stranger = Customer.objects.create(account_no="C-900", name="Zhang San", phone="13900000009")
    elsewhere_meter = Meter.objects.create(serial="E900", site=elsewhere_site, address="240101000900")
    elsewhere = Account.objects.create(number="C-900-E1", site=elsewhere_site, customer=stranger,
                                       meter=elsewhere_meter, utility="electricity", opened_on=date(2026, 1, 1))
    ledger.post(prepaid, "recharge", Decimal("35.20"), key="opening", source="test")
    ledger.post(postpaid, "bill", Decimal("-48.60"), key="bill", source="test")
    PaymentProvider.objects.create(code="sandbox", name="Sandbox Pay", secret="sandbox-secret", sandbox=True)
    return {"prepaid": prepaid, "postpaid": postpaid, "closed": closed, "elsewhere": elsewhere}
