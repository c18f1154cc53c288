"""The sandbox provider's payment page (billing.sandbox): public like a provider's hosted page,
addressed by the order's unguessable number, and only for a provider configured as sandbox."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.billing import checkout, sandbox
from meterhub.billing.models import PaymentOrder


def _sandbox_order(number: str) -> PaymentOrder:
    order = get_object_or_404(PaymentOrder.objects.select_related("provider", "account__site"), number=number)
    if not order.provider.sandbox or not order.provider.enabled:
        raise Http404("not a sandbox order")
    return checkout.current(order)


def _back(request, order: PaymentOrder):
    """Back to where the payer came from (our own pages only), else this page."""
    if order.return_url and url_has_allowed_host_and_scheme(order.return_url, allowed_hosts={request.get_host()}):
        return redirect(order.return_url)
    return redirect("checkout-sandbox", number=order.number)


def sandbox_page(request, number):
    order = _sandbox_order(number)
    return render(request, "web/checkout_sandbox.html", {"order": order, "merchant": order.account.site.name})


@require_POST
def sandbox_pay(request, number):
    order = _sandbox_order(number)
    if order.status == PaymentOrder.Status.PAID:
        return _back(request, order)
    if order.status != PaymentOrder.Status.PENDING:
        messages.error(request, _("This order can no longer be paid: %(status)s.") % {
            "status": order.get_status_display()})
        return redirect("checkout-sandbox", number=number)
    base = settings.SANDBOX_WEBHOOK_BASE or request.build_absolute_uri("/")
    url = base.rstrip("/") + reverse("billing-webhook", kwargs={"provider": order.provider.code})
    try:
        delivery = sandbox.pay(order, url)
    except sandbox.SandboxError as exc:
        messages.error(request, str(exc))
        return redirect("checkout-sandbox", number=number)
    if delivery.status != 200:
        messages.error(request, _("The merchant refused the payment: %(why)s") % {"why": delivery.outcome})
        return redirect("checkout-sandbox", number=number)
    return _back(request, order)


@require_POST
def sandbox_cancel(request, number):
    return _back(request, checkout.cancel(_sandbox_order(number)))
