"""A customer's contact preferences, as operators see and change them from the customer page."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from meterhub.accounts import roles
from meterhub.assets.models import Customer
from meterhub.notifications import contacts
from meterhub.notifications.forms import ContactPreferenceForm
from meterhub.web.access import requires


@requires(roles.ASSETS_CHANGE)
def customer_contact(request, pk):
    request.section = "customers"
    customer = get_object_or_404(Customer, pk=pk)
    form = ContactPreferenceForm(request.POST or None, instance=contacts.preference_of(customer))
    if request.method == "POST" and form.is_valid():
        contacts.update(customer, form.cleaned_data, actor=request.user)
        messages.success(request, _("Contact preferences of %(c)s saved.") % {"c": customer.name})
        return redirect("customer-detail", pk=customer.pk)
    return render(request, "web/simple_form.html",
                  {"form": form, "title": _("Contact preferences: %(c)s") % {"c": customer}})
