"""Payments and refunds: the list (billing.view) and a payment an integrator reports (payments.take),
credited once per reference (billing.payments.record_external)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status
from ninja.errors import HttpError

from meterhub.accounts import roles
from meterhub.api import paging
from meterhub.api.filters import given
from meterhub.api.registry import IdPageQuery
from meterhub.api.routes import get, post
from meterhub.api.schemas import AwareTime, DbInt, PaymentIn, PaymentOut, PaymentPage
from meterhub.billing import payments
from meterhub.billing.models import Account, Payment, PaymentProvider

router = Router(tags=["billing"])
RELATED = ("account__site", "provider", "operator")


class PaymentQuery(IdPageQuery):
    account: str | None = None  # account number
    site: str | None = None  # site code
    kind: str | None = None  # payment | refund
    method: str | None = None  # cash | pos | online
    provider: str | None = None  # provider code
    reference: str | None = None
    received_from: AwareTime | None = None
    received_to: AwareTime | None = None  # excluded


@get(router, "/payments", roles.BILLING_VIEW, url_name="api-payments", response=PaymentPage,
     summary="Payments and refunds")
def payment_list(request, q: Query[PaymentQuery]):
    rows = given(Payment.objects.select_related(*RELATED), account__number=q.account, account__site__code=q.site,
                 kind=q.kind, method=q.method, provider__code=q.provider, external_id=q.reference,
                 received_at__gte=q.received_from, received_at__lt=q.received_to)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [payments.describe(p) for p in items], "next_after": next_after}


@get(router, "/payments/{payment_id}", roles.BILLING_VIEW, url_name="api-payment", response=PaymentOut,
     summary="One payment or refund")
def payment_detail(request, payment_id: DbInt):
    return payments.describe(get_object_or_404(Payment.objects.select_related(*RELATED), pk=payment_id))


@post(router, "/payments", roles.PAYMENTS_TAKE, url_name="api-payments", response={200: PaymentOut, 201: PaymentOut},
      summary="Record a payment taken elsewhere (a bank counter, a property system); once per reference")
def payment_create(request, body: PaymentIn):
    """201 with the payment; the same `reference` again answers 200 with the first payment and credits
    nothing; a reference already used for another account or amount is 409."""
    account = get_object_or_404(Account.objects.select_related("site"), number=body.account)
    provider = None
    if body.provider is not None:
        provider = PaymentProvider.objects.filter(code=body.provider, enabled=True).first()
        if provider is None:
            raise HttpError(400, f"no enabled payment provider {body.provider}")
    try:
        payment, created = payments.record_external(
            account, body.amount, reference=body.reference, operator=request.user, method=body.method,
            provider=provider, currency=body.currency, received_at=body.received_at, note=body.note)
    except payments.ReferenceReused as exc:
        raise HttpError(409, str(exc)) from exc
    except payments.PaymentError as exc:
        raise HttpError(400, str(exc)) from exc
    payment = Payment.objects.select_related(*RELATED).get(pk=payment.pk)
    return Status(201 if created else 200, payments.describe(payment))
