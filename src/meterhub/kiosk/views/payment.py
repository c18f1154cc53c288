"""Paying at the terminal: an order for the amount chosen, its QR code for the customer's phone,
the screen waiting for the provider's webhook, and the receipt (printed, or as PDF)."""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from meterhub.accounts import audit
from meterhub.billing import checkout, documents, supply
from meterhub.billing.models import PaymentOrder
from meterhub.kiosk import qr, visits
from meterhub.kiosk.access import VISIT, kiosk_view
from meterhub.kiosk.forms import AmountForm
from meterhub.kiosk.pages import IDLE_S, screen
from meterhub.kiosk.views.screens import account_screen
from meterhub.portal.masking import mask_name
from meterhub.portal.progress import supply_progress


def _order(visit: visits.Visit, number: str) -> PaymentOrder:
    """One of the orders this visit made (no other order is shown here, whatever its number)."""
    if number not in visit.orders:
        raise Http404("not an order of this visit")
    return checkout.current(get_object_or_404(
        PaymentOrder.objects.select_related("account__site", "provider", "payment"), number=number))


def _terminal_line(terminal) -> str:
    return f"{terminal.code} {terminal.location or terminal.name}"


@require_POST
@kiosk_view(VISIT)
def pay(request, visit):
    """A preset's button or the keypad's amount: an order, and on to its QR code."""
    form = AmountForm(request.POST)
    if form.is_valid():
        try:
            amount = checkout.parse_amount(form.cleaned_data["amount"])
            made = checkout.create_order(visit.account, amount, PaymentOrder.Channel.KIOSK,
                                         requested_by=request.terminal.audit_name)
        except checkout.CheckoutError as exc:
            form.add_error("amount", str(exc))
        else:
            audit.record("kiosk.order", visit.account, {"order": [None, made.order.number],
                                                        "amount": [None, str(amount)]},
                         actor_name=request.terminal.audit_name)
            visits.remember(request, order=made.order.number)
            return redirect("kiosk:order", number=made.order.number)
    return account_screen(request, visit, form, status=400)


@kiosk_view(VISIT)
def order(request, visit, number):
    found = _order(visit, number)
    if found.status == PaymentOrder.Status.PAID:
        return redirect("kiosk:receipt", number=number)
    pay_url = request.build_absolute_uri(checkout.pay_url(found))
    return screen(request, "kiosk/order.html", {"order": found, "pay_url": pay_url, "qr": qr.svg(pay_url)},
                  idle=IDLE_S["order"])


@kiosk_view(VISIT)
def order_status(request, visit, number):
    found = _order(visit, number)
    paid = found.status == PaymentOrder.Status.PAID
    return JsonResponse({"status": found.status, "label": str(found.get_status_display()), "paid": paid,
                         "receipt": reverse("kiosk:receipt", kwargs={"number": number}) if paid else ""})


@require_POST
@kiosk_view(VISIT)
def order_cancel(request, visit, number):
    found = checkout.cancel(_order(visit, number))
    if found.status == PaymentOrder.Status.CANCELLED:
        audit.record("kiosk.order_cancel", visit.account, {"order": [None, number]},
                     actor_name=request.terminal.audit_name)
    return redirect("kiosk:account")


def _paid(visit, number: str) -> PaymentOrder | None:
    found = _order(visit, number)
    return found if found.status == PaymentOrder.Status.PAID else None


@kiosk_view(VISIT)
def receipt(request, visit, number):
    found = _paid(visit, number)
    if found is None:
        return redirect("kiosk:order", number=number)
    account = visit.account
    account.refresh_from_db(fields=["balance", "supply"])
    return screen(request, "kiosk/receipt.html", {
        "order": found, "payment": found.payment, "account": account,
        "masked_name": mask_name(account.customer.name), "balance_after": documents.balance_after(found.payment.entry),
        "received_at": timezone.localtime(found.payment.received_at), "terminal_line": _terminal_line(request.terminal),
        "supply": supply_progress(supply.state_of(account))}, idle=IDLE_S["receipt"])


@kiosk_view(VISIT)
def receipt_pdf(request, visit, number):
    found = _paid(visit, number)
    if found is None:
        raise Http404("not paid")
    content = documents.receipt_pdf(found.payment, request.LANGUAGE_CODE,
                                    customer_name=mask_name(visit.account.customer.name),
                                    terminal=_terminal_line(request.terminal))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{found.payment.receipt_no}.pdf"'
    return response
