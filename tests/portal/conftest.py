"""Portal fixtures: a customer with two accounts (prepaid electricity with a relay, postpaid
water), a stranger's account, and ways to be signed in as a phone."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

HOLDER_PHONE, HOLDER_NAME, HOLDER_ID = "13800000001", "Li Wei", "11010119900307123X"


def code_sent_to(phone: str) -> str:
    """The six digits in the latest SMS queued to `phone` (as the customer reads it)."""
    from meterhub.notifications.models import Message

    message = Message.objects.filter(channel="sms", recipient=phone).order_by("-id").first()
    assert message is not None, f"no SMS to {phone}"
    return re.search(r"\b(\d{6})\b", message.body).group(1)


@pytest.fixture
def estate(site, collector):
    from meterhub.assets.models import Customer, Meter, Premise
    from meterhub.billing import ledger
    from meterhub.billing.models import Account, PaymentProvider

    holder = Customer.objects.create(account_no="C-100", name=HOLDER_NAME, phone=HOLDER_PHONE,
                                     id_number=HOLDER_ID, email="li.wei@example.test", language="en")
    stranger = Customer.objects.create(account_no="C-200", name="Zhang San", phone="13900000009",
                                       id_number="110101198001011111")
    flat = Premise.objects.create(site=site, unit="3-2-201")
    elsewhere = Premise.objects.create(site=site, unit="9-9-909")
    electricity = Meter.objects.create(serial="E100", site=site, address="240101000100", collector=collector,
                                       payment_mode="prepaid", switch="relay")
    water = Meter.objects.create(serial="W100", site=site, address="00000100", collector=collector, kind="water",
                                 protocol="mbus", payment_mode="postpaid")
    theirs = Meter.objects.create(serial="E200", site=site, address="240101000200", collector=collector,
                                  payment_mode="prepaid", switch="relay")
    prepaid = Account.objects.create(number="C-100-E1", site=site, customer=holder, premise=flat, meter=electricity,
                                     utility="electricity", payment_mode="prepaid", opened_on=date(2026, 1, 1))
    postpaid = Account.objects.create(number="C-100-W1", site=site, customer=holder, premise=flat, meter=water,
                                      utility="water", payment_mode="postpaid", opened_on=date(2026, 1, 1))
    other = Account.objects.create(number="C-200-E1", site=site, customer=stranger, premise=elsewhere, meter=theirs,
                                   utility="electricity", payment_mode="prepaid", opened_on=date(2026, 1, 1))
    ledger.post(prepaid, "recharge", Decimal("35.20"), key="opening", source="test")
    ledger.post(postpaid, "bill", Decimal("-48.60"), key="bill", source="test")
    PaymentProvider.objects.create(code="sandbox", name="Sandbox Pay", secret="sandbox-secret", sandbox=True)
    return {"prepaid": prepaid, "postpaid": postpaid, "other": other, "holder": holder, "stranger": stranger}


@pytest.fixture
def portal_user(db):
    from meterhub.portal.models import PortalUser

    return PortalUser.objects.create(phone="13700000002")


@pytest.fixture
def signed_in_portal(client, portal_user):
    """The test client with a live portal session for `portal_user` (the cookie, as after sign-in)."""
    from django.test import RequestFactory

    from meterhub.portal import sessions

    token = sessions.start(portal_user, RequestFactory().get("/portal/"))
    client.cookies[sessions.COOKIE] = token
    return client


@pytest.fixture
def bound(estate, portal_user):
    """The portal user has bound both of the holder's accounts (not the stranger's)."""
    from meterhub.portal.models import Binding

    for key in ("prepaid", "postpaid"):
        Binding.objects.create(user=portal_user, account=estate[key])
    return estate
