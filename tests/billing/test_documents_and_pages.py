"""Receipts, bills and statements as PDF (read back with pypdf) and Excel, and the billing pages."""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from meterhub.billing import documents, ledger, payments, settlement
from meterhub.billing.models import Account, Bill, LedgerEntry, Payment
from tests.billing.conftest import local, make_account, store

D = Decimal
pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


@pytest.fixture
def billed(site, flat_tariff):
    accounts = [make_account(site, f"B{i}") for i in range(3)]
    for n, a in enumerate(accounts):
        store(a.meter, local(2026, 10, 1), energy_import=0)
        store(a.meter, local(2026, 11, 1), energy_import=100 + n)
    settlement.run(site, "2026-10")
    return accounts


def test_bill_pdf_in_chinese_and_english(billed):
    bill = Bill.objects.get(account=billed[0])
    [zh] = pdf_text(documents.bill_pdf([bill], "zh-hans"))
    [en] = pdf_text(documents.bill_pdf([bill], "en"))
    assert "Bill 2026-10" in en and "Amount due" in en and "CNY 60.00" in en and "Standing charge" in en
    assert "账单" in zh and "应缴金额" in zh and "CNY 60.00" in zh and "B0" in zh


def test_batch_printing_is_one_pdf_with_a_page_per_bill(billed):
    pages = pdf_text(documents.bill_pdf(Bill.objects.order_by("account__number"), "en"))
    assert len(pages) == 3
    assert ["B0" in pages[0], "B1" in pages[1], "CNY 60.50" in pages[1]] == [True, True, True]


def test_receipt_and_statement_for_a_date_range(billed):
    account = billed[0]
    payment = payments.take_payment(account, D("100.00"), method="cash")
    [receipt] = pdf_text(documents.receipt_pdf(payment, "en"))
    assert payment.receipt_no in receipt and "CNY 100.00" in receipt and "CNY 40.00" in receipt  # balance after
    [kiosk] = pdf_text(documents.receipt_pdf(payment, "en", customer_name="B**", terminal="LOBBY-1 Service hall"))
    assert "Customer\nB**" in kiosk and account.customer.name not in kiosk and "Terminal\nLOBBY-1 Service hall" in kiosk
    today = payment.received_at.astimezone(local(2026, 1, 1).tzinfo).date()
    st = documents.statement(account, date(2026, 11, 2), today)
    assert (st.opening, st.closing) == (D(-60), D(40))  # the bill is dated the settlement day, before the range
    text = "".join(pdf_text(documents.statement_pdf(st, "zh-hans")))
    assert "对账单" in text and "CNY -60.00" in text and "CNY 40.00" in text
    rows = list(load_workbook(io.BytesIO(documents.statement_xlsx(st, "en"))).active.iter_rows(values_only=True))
    assert rows[2][:2] == ("Time", "Item") and rows[-1][-1] == 40


def test_billing_pages_for_finance(signed_in, billed):
    client, _user = signed_in("finance")
    account = billed[0]
    page = client.get(reverse("section-billing")).content.decode()
    assert 'data-account="B0"' in page and "not available in this version" not in page
    assert "payment-form" in client.get(reverse("billing-account", args=[account.pk])).content.decode()
    # one form token: a double submit takes the payment once
    for _ in range(2):
        response = client.post(reverse("billing-take-payment", args=[account.pk]),
                               {"amount": "25.50", "method": "cash", "token": "tok-1"})
        assert response.status_code == 302
    assert Payment.objects.get().amount == D("25.50")
    # the same form sent again after changing the amount (the back button): refused, said plainly
    response = client.post(reverse("billing-take-payment", args=[account.pk]),
                           {"amount": "30", "method": "cash", "token": "tok-1"}, follow=True)
    receipt = Payment.objects.get().receipt_no
    assert f"this form already took payment {receipt}" in response.content.decode()
    assert Payment.objects.get().amount == D("25.50")
    response = client.post(reverse("billing-take-payment", args=[billed[1].pk]),  # and for another account
                           {"amount": "25.50", "method": "cash", "token": "tok-1"}, follow=True)
    assert f"this form already took payment {receipt}" in response.content.decode()
    assert Payment.objects.count() == 1
    assert client.get(reverse("billing-receipt", args=[Payment.objects.get().pk]))["Content-Type"] == "application/pdf"
    response = client.post(reverse("billing-take-payment", args=[account.pk]), {"amount": "abc", "method": "cash"},
                           follow=True)
    assert "Payment not taken" in response.content.decode()
    response = client.get(reverse("billing-statement", args=[account.pk]), {"from": "2026-10-01", "to": "2026-12-31",
                                                                           "format": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    bill = Bill.objects.get(account=account)
    assert pdf_text(client.get(reverse("billing-bill-pdf", args=[bill.pk]), {"lang": "en"}).content)[0].count("B0")
    assert len(pdf_text(client.get(reverse("billing-batch-print"), {"period": "2026-10"}).content)) == 3
    sheet = load_workbook(io.BytesIO(client.get(reverse("billing-batch-print"), {
        "period": "2026-10", "format": "xlsx", "lang": "en"}).content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Account" and [r[0] for r in rows[1:]] == ["B0", "B1", "B2"] and rows[2][8] == 60.5
    assert "2026-10" in client.get(reverse("billing-runs"), {"period": "2026-10"}).content.decode()
    assert client.get(reverse("billing-reconciliation")).status_code == 200
    assert client.get(reverse("billing-tariffs")).status_code == 200


def test_bill_run_from_the_console_is_idempotent(signed_in, site, flat_tariff):
    a = make_account(site, "C1")
    store(a.meter, local(2026, 11, 1), energy_import=0)
    store(a.meter, local(2026, 12, 1), energy_import=10)
    client, _user = signed_in("finance")
    for _ in range(2):
        client.post(reverse("billing-run"), {"site": site.pk, "period": "2026-11"})
    assert Bill.objects.count() == 1 and LedgerEntry.objects.filter(kind="bill").count() == 1
    response = client.post(reverse("billing-run"), {"site": site.pk, "period": "11/2026"}, follow=True)
    assert "YYYY-MM" in response.content.decode()


def test_cashiers_take_payments_but_do_not_refund_or_run_bills(signed_in, site, billed):
    client, _user = signed_in("operator")
    account = billed[0]
    client.post(reverse("billing-take-payment", args=[account.pk]), {"amount": "5", "method": "pos", "token": "t"})
    payment = Payment.objects.get()
    assert client.post(reverse("billing-refund", args=[payment.pk]), {"amount": "1"}).status_code == 403
    assert client.post(reverse("billing-run"), {"site": site.pk, "period": "2026-12"}).status_code == 403
    client, _user = signed_in("readonly")
    assert client.post(reverse("billing-take-payment", args=[account.pk]), {"amount": "5"}).status_code == 403
    Account.objects.get(pk=account.pk)
    assert ledger.mismatched_balances() == []


def test_tariffs_settings_and_accounts_from_the_console(signed_in, site):
    from meterhub.billing.models import BillingSettings, Tariff

    client, _user = signed_in("finance")
    data = {"site": site.pk, "code": "res", "name": "Residential", "utility": "electricity", "customer_class": "",
            "valid_from": "2026-01-01", "definition": '{"tiers": [{"up_to": "200", "price": "0.5"}]}'}
    response = client.post(reverse("billing-tariff-new"), data)
    assert response.status_code == 200 and "open-ended" in response.content.decode()
    data["definition"] = '{"tiers": [{"up_to": "200", "price": "0.5"}, {"price": "0.8"}]}'
    assert client.post(reverse("billing-tariff-new"), data).status_code == 302
    assert Tariff.objects.get().definition["tiers"][1]["price"] == "0.8"
    client.post(reverse("billing-settings", args=[site.pk]), {
        "settlement_day": 5, "due_days": 10, "late_fee_percent": "1.5", "late_fee_grace_days": 3,
        "low_balance_thresholds": '["30"]', "quiet_from": "20:00", "quiet_until": "07:00",
        "no_cutoff_weekends": "on"})
    conf = BillingSettings.objects.get(site=site)
    assert (conf.settlement_day, conf.late_fee_percent, conf.no_cutoff_holidays) == (5, D("1.5"), False)
    account = make_account(site, "E1", mode="prepaid")
    client.post(reverse("billing-account-edit", args=[account.pk]), {"credit_limit": "20", "vulnerable": "on"})
    account.refresh_from_db()
    assert account.credit_limit == 20 and account.vulnerable
    assert client.post(reverse("billing-sync-accounts")).status_code == 302
