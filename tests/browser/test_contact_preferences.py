"""A customer's contact preferences on a phone: the customer page shows them, the operator
changes them in the small form and comes back to the page showing the change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meterhub.assets.models import Customer

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("METERHUB_SCREENSHOTS", "/tmp/meterhub-screenshots"))


def test_an_operator_sets_quiet_hours_from_the_customer_page_on_a_phone(new_page, operator_login):
    customer = Customer.objects.create(account_no="C-1", name="Li Wei", phone="13800000001",
                                       email="li@example.test")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = new_page(width=360, height=740)
    operator_login(page, role="operator")
    page.goto(f"/customers/{customer.pk}/")
    page.click("#contact-preferences >> xpath=preceding-sibling::div[1] >> text=Change")
    page.check("input[name=email]")
    page.fill("input[name=wechat_openid]", "OPENID-LI")
    page.fill("input[name=quiet_from]", "22:00")
    page.fill("input[name=quiet_until]", "07:00")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "no sideways scroll"
    page.screenshot(path=str(SHOTS / "contact-preferences-form-360.png"), full_page=True)
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"**/customers/{customer.pk}/")
    facts = page.locator("#contact-preferences").inner_text()
    assert "22:00–07:00" in facts and "OPENID-LI" in facts and "li@example.test" in facts
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(SHOTS / "customer-contact-360.png"), full_page=True)
