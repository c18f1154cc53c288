"""Billing pages: accounts and their ledger, payments and receipts, bill runs, documents,
reconciliation, tariffs, and the payment providers' webhook. Thin: the work is in meterhub.billing."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.assets.models import Site
from meterhub.billing import accounts as billing_accounts
from meterhub.billing import documents, ledger, payments, reconciliation, settlement
from meterhub.billing.models import (
    Account,
    BalanceAlert,
    Bill,
    BillingSettings,
    BillRun,
    Payment,
    SupplyAction,
    Tariff,
    WebhookLog,
)
from meterhub.web.access import requires

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(content: bytes, content_type: str, filename: str, inline: bool = False) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{filename}"'
    return response


def _language(request) -> str:
    return request.GET.get("lang") or request.LANGUAGE_CODE


@requires(roles.BILLING_VIEW)
def home(request):
    request.section = "billing"
    accounts = Account.objects.select_related("customer", "meter", "site")
    q, mode, supply = request.GET.get("q", "").strip(), request.GET.get("mode", ""), request.GET.get("supply", "")
    if q:
        accounts = accounts.filter(Q(number__icontains=q) | Q(customer__name__icontains=q) |
                                   Q(meter__serial__icontains=q))
    if mode:
        accounts = accounts.filter(payment_mode=mode)
    if supply:
        accounts = accounts.filter(supply=supply)
    totals = Account.objects.aggregate(n=Count("id"), arrears=Sum("balance", filter=Q(balance__lt=0)),
                                       credit=Sum("balance", filter=Q(balance__gt=0)),
                                       off=Count("id", filter=Q(supply=Account.Supply.OFF)))
    totals["arrears"], totals["credit"] = -ledger.cents(totals["arrears"]), ledger.cents(totals["credit"])
    return render(request, "web/billing_home.html", {
        "page": Paginator(accounts, 50).get_page(request.GET.get("page")), "q": q, "mode": mode, "supply": supply,
        "totals": totals, "runs": BillRun.objects.select_related("site")[:5],
        "alerts": BalanceAlert.objects.select_related("account")[:10],
        "actions": SupplyAction.objects.select_related("account")[:10]})


@requires(roles.BILLING_VIEW)
def account_detail(request, pk):
    request.section = "billing"
    account = get_object_or_404(Account.objects.select_related("customer", "meter", "site", "premise"), pk=pk)
    today = timezone.localdate()
    return render(request, "web/billing_account.html", {
        "account": account, "entries": account.entries.order_by("-at", "-id")[:100],
        "bills": account.bills.all()[:24], "payments": account.payments.select_related("operator", "provider")[:50],
        "actions": account.supply_actions.all()[:20], "alerts": account.alerts.all()[:20],
        "token": secrets.token_urlsafe(16), "methods": [(m, label) for m, label in Payment.Method.choices
                                                         if m != Payment.Method.ONLINE],
        "statement_from": today.replace(day=1), "statement_to": today})


@require_POST
@requires(roles.PAYMENTS_TAKE)
def take_payment(request, pk):
    account = get_object_or_404(Account, pk=pk)
    token = request.POST.get("token", "")[:40]
    try:
        amount = Decimal(request.POST.get("amount", ""))
        method = request.POST.get("method", "")
        if method not in (Payment.Method.CASH, Payment.Method.POS):
            raise payments.PaymentError(_("Choose cash or card"))
        payment = payments.take_counter_payment(account, amount, method=method, operator=request.user, token=token,
                                                note=request.POST.get("note", ""))
    except (InvalidOperation, payments.PaymentError) as exc:
        messages.error(request, _("Payment not taken: %(e)s") % {"e": exc if str(exc) else _("enter an amount")})
        return redirect("billing-account", pk=pk)
    messages.success(request, _("Payment %(no)s taken.") % {"no": payment.receipt_no})
    return redirect(f"{redirect('billing-account', pk=pk).url}?receipt={payment.pk}")


@require_POST
@requires(roles.BILLING_CHANGE)
def refund(request, pk):
    payment = get_object_or_404(Payment, pk=pk)
    try:
        amount = Decimal(request.POST.get("amount", ""))
        made = payments.refund(payment, amount, operator=request.user, note=request.POST.get("note", ""),
                               key=f"refund:form:{request.POST.get('token', '')[:40]}"
                               if request.POST.get("token") else None)
    except (InvalidOperation, payments.PaymentError) as exc:
        messages.error(request, _("Refund not made: %(e)s") % {"e": exc if str(exc) else _("enter an amount")})
    else:
        messages.success(request, _("Refund %(no)s made.") % {"no": made.receipt_no})
    return redirect("billing-account", pk=payment.account_id)


@requires(roles.BILLING_VIEW)
def receipt(request, pk):
    payment = get_object_or_404(Payment.objects.select_related("account__site", "account__customer"), pk=pk)
    return _download(documents.receipt_pdf(payment, _language(request)), PDF, f"receipt-{payment.receipt_no}.pdf",
                     inline=True)


@requires(roles.BILLING_VIEW)
def bill_pdf(request, pk):
    bill = get_object_or_404(Bill.objects.select_related("account__site", "account__customer"), pk=pk)
    return _download(documents.bill_pdf([bill], _language(request)), PDF,
                     f"bill-{bill.account.number}-{bill.period}.pdf", inline=True)


@requires(roles.BILLING_VIEW)
def statement(request, pk):
    account = get_object_or_404(Account.objects.select_related("site", "customer"), pk=pk)
    try:
        start = date.fromisoformat(request.GET.get("from", ""))
        end = date.fromisoformat(request.GET.get("to", ""))
    except ValueError:
        end = timezone.localdate()
        start = end.replace(day=1)
    if end < start or end - start > timedelta(days=3660):
        messages.error(request, _("Choose a date range of at most ten years, the start before the end."))
        return redirect("billing-account", pk=pk)
    st = documents.statement(account, start, end)
    name = f"statement-{account.number}-{start}-{end}"
    if request.GET.get("format") == "xlsx":
        return _download(documents.statement_xlsx(st, _language(request)), XLSX, f"{name}.xlsx")
    return _download(documents.statement_pdf(st, _language(request)), PDF, f"{name}.pdf")


@requires(roles.BILLING_VIEW)
def runs(request):
    request.section = "billing"
    period = request.GET.get("period", "")
    bills = Bill.objects.none()
    if period:
        bills = Bill.objects.filter(period=period).select_related("account__customer")
    return render(request, "web/billing_runs.html", {
        "runs": BillRun.objects.select_related("site")[:50], "sites": Site.objects.all(), "period": period,
        "bills": Paginator(bills, 100).get_page(request.GET.get("page")),
        "default_period": settlement.previous_period(timezone.localdate().strftime("%Y-%m"))})


@require_POST
@requires(roles.BILLING_CHANGE)
def run_bills(request):
    site = get_object_or_404(Site, pk=request.POST.get("site") or 0)
    period = request.POST.get("period", "")
    try:
        result = settlement.run(site, period, started_by=request.user.username)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("billing-runs")
    messages.success(request, _("%(billed)d accounts billed, %(done)d already billed, %(problems)d problems.") % {
        "billed": result.billed, "done": result.already_billed, "problems": len(result.problems)})
    return redirect(f"{redirect('billing-runs').url}?period={period}")


@requires(roles.BILLING_VIEW)
def batch_print(request):
    period = request.GET.get("period", "")
    bills = (Bill.objects.filter(period=period).select_related("account__site", "account__customer",
                                                                "account__meter", "account__premise")
             .prefetch_related("lines").order_by("account__number"))
    if request.GET.get("site"):
        bills = bills.filter(account__site__code=request.GET["site"])
    if request.GET.get("format") == "xlsx":
        return _download(documents.bills_xlsx(bills, _language(request)), XLSX, f"bills-{period}.xlsx")
    return _download(documents.bill_pdf(bills, _language(request)), PDF, f"bills-{period}.pdf")


@requires(roles.BILLING_VIEW)
def reconciliation_page(request):
    request.section = "billing"
    sites = Site.objects.all()
    site = sites.filter(code=request.GET.get("site", "")).first() or sites.first()
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    report = reconciliation.daily(site, day) if site else None
    if report and request.GET.get("format") == "xlsx":
        return _download(documents.reconciliation_xlsx(report, _language(request)), XLSX,
                         f"reconciliation-{site.code}-{day}.xlsx")
    return render(request, "web/billing_reconciliation.html", {
        "sites": sites, "site": site, "day": day, "report": report,
        "webhooks": WebhookLog.objects.all()[:20]})


@requires(roles.BILLING_VIEW)
def tariff_list(request):
    request.section = "billing"
    return render(request, "web/billing_tariffs.html", {"tariffs": Tariff.objects.select_related("site"),
                                                        "sites": Site.objects.all()})


@csrf_exempt
@require_POST
def webhook(request, provider):
    """Public by design: the provider's signature, not a session, authenticates it."""
    result = payments.handle_webhook(provider, request.body, request.headers,
                                     remote_addr=request.META.get("REMOTE_ADDR", ""))
    return HttpResponse(result.outcome, status=result.status, content_type="text/plain")


class TariffForm(forms.ModelForm):
    definition = forms.JSONField(label=_l("Definition"), widget=forms.Textarea(attrs={"rows": 12}),
                                 help_text=_l("JSON, as in docs/billing.md: energy price or periods, tiers, "
                                              "standing charge, seasons, schedule"))

    class Meta:
        model = Tariff
        fields = ["site", "code", "name", "utility", "customer_class", "valid_from", "valid_to", "definition"]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"}),
                   "valid_to": forms.DateInput(attrs={"type": "date"})}


class SettingsForm(forms.ModelForm):
    class Meta:
        model = BillingSettings
        exclude = ["site"]
        widgets = {"quiet_from": forms.TimeInput(attrs={"type": "time"}),
                   "quiet_until": forms.TimeInput(attrs={"type": "time"})}


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["credit_limit", "vulnerable"]


def _form_page(request, form, title: str, done):
    request.section = "billing"
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved."))
        return redirect(done)
    return render(request, "web/simple_form.html", {"form": form, "title": title})


@requires(roles.BILLING_CHANGE)
def tariff_new(request):
    form = TariffForm(request.POST or None)
    return _form_page(request, form, _("New tariff version"), "billing-tariffs")


@requires(roles.BILLING_CHANGE)
def site_settings(request, pk):
    site = get_object_or_404(Site, pk=pk)
    form = SettingsForm(request.POST or None, instance=settlement.settings_for(site))
    form.instance.site = site
    return _form_page(request, form, _("Billing settings: %(site)s") % {"site": site}, "billing-tariffs")


@requires(roles.BILLING_CHANGE)
def account_edit(request, pk):
    account = get_object_or_404(Account, pk=pk)
    form = AccountForm(request.POST or None, instance=account)
    return _form_page(request, form, _("Account %(no)s") % {"no": account.number},
                      reverse("billing-account", args=[pk]))


@require_POST
@requires(roles.BILLING_CHANGE)
def sync_accounts(request):
    opened = closed = 0
    for site in Site.objects.all():
        result = billing_accounts.sync_accounts(site)
        opened, closed = opened + len(result.opened), closed + len(result.closed)
    messages.success(request, _("%(opened)d accounts opened, %(closed)d closed.") % {"opened": opened,
                                                                                     "closed": closed})
    return redirect("section-billing")
