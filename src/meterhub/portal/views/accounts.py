"""The customer's accounts: the list, binding and unbinding, an account's page, its usage,
its messages and the contact preferences of its holder."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import context
from meterhub.billing.models import Account
from meterhub.notifications import contacts
from meterhub.portal import binding, charts, overview
from meterhub.portal.access import ACCOUNT, CUSTOMER, portal_view
from meterhub.portal.forms import BindForm, CodeForm, ContactForm
from meterhub.portal.masking import mask_email, mask_phone
from meterhub.portal.progress import supply_progress
from meterhub.portal.usage import usage

PENDING_BIND = "portal_bind_account"


@portal_view(CUSTOMER)
def home(request):
    accounts = [overview.overview(a) for a in binding.bound_accounts(request.portal_session.user)]
    return render(request, "portal/home.html", {"accounts": accounts})


@portal_view(CUSTOMER)
def bind(request):
    form = BindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pending = binding.start(request.portal_session.user, form.cleaned_data["account_number"],
                                    form.cleaned_data["name"], form.cleaned_data["id_number"],
                                    ip=context.client_ip(request), language=request.LANGUAGE_CODE)
        except binding.BindError as exc:
            form.add_error(None, str(exc))
        else:
            request.session[PENDING_BIND] = pending.account.pk
            messages.info(request, _("We sent a code to %(phone)s, the mobile number registered for account "
                                     "%(number)s.") % {"phone": pending.phone_masked, "number": pending.account.number})
            return redirect("portal:bind-code")
    return render(request, "portal/bind.html", {"form": form})


@portal_view(CUSTOMER)
def bind_code(request):
    account = Account.objects.select_related("customer").filter(pk=request.session.get(PENDING_BIND)).first()
    if account is None:
        return redirect("portal:bind")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            binding.confirm(request.portal_session.user, account, form.cleaned_data["code"],
                            ip=context.client_ip(request))
        except binding.BindError as exc:
            form.add_error("code", str(exc))
        else:
            request.session.pop(PENDING_BIND, None)
            messages.success(request, _("Account %(number)s is bound to your phone.") % {"number": account.number})
            return redirect("portal:account", pk=account.pk)
    return render(request, "portal/bind_code.html", {"form": form, "account": account})


@require_POST
@portal_view(ACCOUNT)
def unbind(request, account):
    binding.unbind(request.portal_session.user, account)
    messages.success(request, _("Account %(number)s is no longer bound to your phone.") % {"number": account.number})
    return redirect("portal:home")


@portal_view(ACCOUNT)
def account_page(request, account):
    today = timezone.localdate()
    used = usage(account, today)
    week = used.days[-7:]
    o = overview.overview(account)
    return render(request, "portal/account.html", {
        "o": o, "supply": supply_progress(o.supply), "usage": used, "seals": overview.seals_of(account.meter),
        "week": charts.bar_chart([v for _d, v in week], [f"{d:%d}" for d, _v in week])})


@portal_view(ACCOUNT)
def usage_page(request, account):
    used = usage(account, timezone.localdate())
    return render(request, "portal/usage.html", {
        "account": account, "usage": used,
        "daily": charts.bar_chart([v for _d, v in used.days], [f"{d:%m-%d}" for d, _v in used.days], tick_every=7),
        "monthly": charts.bar_chart([v for _m, v in used.months],
                                    [dateformat.format(m, "M") for m, _v in used.months], tick_every=2)})


@portal_view(ACCOUNT)
def messages_page(request, account):
    return render(request, "portal/messages.html", {"account": account,
                                                    "rows": overview.messages_for(account)})


@portal_view(ACCOUNT)
def contact(request, account):
    form = ContactForm(request.POST or None, instance=contacts.preference_of(account.customer))
    if request.method == "POST" and form.is_valid():
        contacts.update(account.customer, form.cleaned_data, actor_name=request.portal_session.user.audit_name)
        messages.success(request, _("Your contact preferences are saved."))
        return redirect("portal:contact", pk=account.pk)
    return render(request, "portal/contact.html", {"account": account, "form": form,
                                                   "masked_phone": mask_phone(account.customer.phone),
                                                   "masked_email": mask_email(account.customer.email)})
