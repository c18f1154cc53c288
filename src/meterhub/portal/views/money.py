"""Bills, payments and statements to download; recharge through the payment provider and
watch the money (and the supply) arrive; reconnection after paying."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import audit
from meterhub.billing import checkout, documents, supply
from meterhub.billing.models import PaymentOrder
from meterhub.portal import overview
from meterhub.portal.access import ACCOUNT, portal_view
from meterhub.portal.forms import AmountForm
from meterhub.portal.progress import supply_progress

PDF = "application/pdf"
PRESETS = ("50", "100", "200", "500")


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=PDF)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@portal_view(ACCOUNT)
def bills(request, account):
    return render(request, "portal/bills.html", {"account": account, "bills": account.bills.all()[:36],
                                                 "money": overview.money_of(account)})


@portal_view(ACCOUNT)
def bill_pdf(request, account, bill):
    found = get_object_or_404(account.bills.select_related("account__site", "account__customer"), pk=bill)
    audit.record("portal.download", found, {"document": [None, "bill"]},
                 actor_name=request.portal_session.user.audit_name)
    return _pdf(documents.bill_pdf([found], request.LANGUAGE_CODE), f"bill-{account.number}-{found.period}.pdf")


@portal_view(ACCOUNT)
def payments(request, account):
    today = timezone.localdate()
    return render(request, "portal/payments.html", {
        "account": account, "payments": account.payments.select_related("provider")[:50],
        "orders": account.payment_orders.exclude(status=PaymentOrder.Status.PAID)[:10],
        "statement_from": (today - timedelta(days=90)), "statement_to": today})


@portal_view(ACCOUNT)
def receipt(request, account, payment):
    found = get_object_or_404(account.payments.select_related("account__site", "account__customer"), pk=payment)
    audit.record("portal.download", found, {"document": [None, "receipt"]},
                 actor_name=request.portal_session.user.audit_name)
    return _pdf(documents.receipt_pdf(found, request.LANGUAGE_CODE), f"receipt-{found.receipt_no}.pdf")


@portal_view(ACCOUNT)
def statement(request, account):
    try:
        start = date.fromisoformat(request.GET.get("from", ""))
        end = date.fromisoformat(request.GET.get("to", ""))
    except ValueError:
        end = timezone.localdate()
        start = end - timedelta(days=90)
    if end < start or end - start > timedelta(days=3660):
        messages.error(request, _("Choose a date range of at most ten years, the start before the end."))
        return redirect("portal:payments", pk=account.pk)
    start = max(start, account.opened_on)  # never the previous tenant's entries (there are none, but say so)
    audit.record("portal.download", account, {"document": [None, f"statement {start}..{end}"]},
                 actor_name=request.portal_session.user.audit_name)
    st = documents.statement(account, start, end)
    return _pdf(documents.statement_pdf(st, request.LANGUAGE_CODE), f"statement-{account.number}-{start}-{end}.pdf")


@portal_view(ACCOUNT)
def recharge(request, account):
    money = overview.money_of(account)
    suggested = "" if money.prepaid or not money.amount_due else f"{money.amount_due}"
    form = AmountForm(request.POST or None, initial={"amount": suggested})
    if request.method == "POST" and form.is_valid():
        user = request.portal_session.user
        try:
            amount = checkout.parse_amount(form.cleaned_data["amount"])
            made = checkout.create_order(
                account, amount, PaymentOrder.Channel.PORTAL, requested_by=user.audit_name,
                return_url=lambda number: reverse("portal:order", kwargs={"pk": account.pk, "number": number}))
        except checkout.CheckoutError as exc:
            form.add_error("amount", str(exc))
        else:
            audit.record("portal.recharge", account,
                         {"order": [None, made.order.number], "amount": [None, str(amount)]},
                         actor_name=user.audit_name)
            return redirect(made.pay_url)
    return render(request, "portal/recharge.html", {"account": account, "form": form, "money": money,
                                                    "presets": PRESETS})


def _order(account, number) -> PaymentOrder:
    order = account.payment_orders.select_related("payment").filter(number=number).first()
    if order is None:
        raise Http404("no such order on this account")
    return checkout.current(order)


def _status(account, order: PaymentOrder) -> dict:
    account.refresh_from_db(fields=["balance", "supply"])
    return {"order": order.status, "order_label": str(order.get_status_display()),
            "paid": order.status == PaymentOrder.Status.PAID,
            "balance": formats.number_format(account.balance, 2, use_l10n=True), "currency": account.site.currency,
            "receipt": order.payment.receipt_no if order.payment_id else "",
            "supply": supply_progress(supply.state_of(account))}


@portal_view(ACCOUNT)
def order_page(request, account, number):
    order = _order(account, number)
    return render(request, "portal/order.html", {"account": account, "order": order,
                                                 "status": _status(account, order),
                                                 "pay_url": checkout.pay_url(order)})


@portal_view(ACCOUNT)
def order_status(request, account, number):
    return JsonResponse(_status(account, _order(account, number)))


@require_POST
@portal_view(ACCOUNT)
def reconnect(request, account):
    user = request.portal_session.user
    try:
        action = supply.request_restore(account, requested_by=user.audit_name)
    except supply.RestoreRefused as exc:
        messages.error(request, str(exc))
    else:
        audit.record("portal.reconnect", account, {"supply_action": [None, action.action]},
                     actor_name=user.audit_name)
        if action.command_id is None:
            messages.error(request, _("The reconnection could not be sent to your meter. Please call customer "
                                      "service."))
        else:
            messages.success(request, _("Reconnection asked for: your meter is being switched on."))
    return redirect("portal:account", pk=account.pk)


@portal_view(ACCOUNT)
def supply_status(request, account):
    return JsonResponse(supply_progress(supply.state_of(account)))
