"""A cashier at the counter, on a phone: find the account, take cash, print the receipt."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterhub.assets.models import Site
from meterhub.billing.models import Account, Payment
from tests.billing.conftest import make_account

pytestmark = pytest.mark.browser


def test_cashier_takes_a_payment_on_a_phone_and_gets_the_receipt(new_page, operator_login, transactional_db):
    site = Site.objects.create(code="north", name="North Estate")
    account = make_account(site, "1001", mode="prepaid")
    page = new_page(width=390, height=844)
    operator_login(page, role="operator")
    page.goto("/billing/")
    page.fill("input[name=q]", "1001")
    page.press("input[name=q]", "Enter")
    page.click("a:text('1001')")
    page.fill("#amount", "88.50")
    page.select_option("#method", "cash")
    page.click("#payment-form button[type=submit]")
    assert page.locator("#balance").inner_text() == "CNY 88.50"
    with page.expect_popup() as popup:
        page.click("text=Print the receipt")
    receipt = popup.value
    assert receipt.url.endswith("/receipt.pdf")
    payment = Payment.objects.get()
    assert (payment.amount, payment.operator.username, payment.method) == (Decimal("88.50"), "operator-user", "cash")
    assert Account.objects.get(pk=account.pk).balance == Decimal("88.50")
