"""Meter installs, exchanges and removals; customer move-ins and move-outs."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.assets import history
from meterhub.assets.models import Customer, Meter, Premise
from meterhub.web import forms
from meterhub.web.access import requires


def _run(request, form, action, success: str) -> None:
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return
    at = form.cleaned_data["at"]
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    try:
        action(form.cleaned_data, at)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)


@require_POST
@requires(roles.ASSETS_CHANGE)
def meter_install(request, pk):
    meter = get_object_or_404(Meter, pk=pk)
    _run(request, forms.InstallForm(request.POST),
         lambda d, at: history.install_meter(meter, d["premise"], at, note=d["note"], actor=request.user),
         _("Meter installed"))
    return redirect("meter-detail", pk=pk)


@require_POST
@requires(roles.ASSETS_CHANGE)
def meter_remove(request, pk):
    meter = get_object_or_404(Meter, pk=pk)
    _run(request, forms.WhenForm(request.POST),
         lambda d, at: history.remove_meter(meter, at, note=d["note"], actor=request.user),
         _("Meter removed"))
    return redirect("meter-detail", pk=pk)


@require_POST
@requires(roles.ASSETS_CHANGE)
def meter_exchange(request, pk):
    meter = get_object_or_404(Meter, pk=pk)
    _run(request, forms.ExchangeForm(request.POST),
         lambda d, at: history.exchange_meter(meter, d["new_meter"], at, note=d["note"], actor=request.user),
         _("Meter exchanged"))
    return redirect("meter-detail", pk=pk)


@require_POST
@requires(roles.ASSETS_CHANGE)
def premise_move_in(request, pk):
    premise = get_object_or_404(Premise, pk=pk)
    _run(request, forms.MoveInForm(request.POST),
         lambda d, at: history.move_in(d["customer"], premise, at, note=d["note"], actor=request.user),
         _("Move-in recorded"))
    return redirect("premise-detail", pk=pk)


@require_POST
@requires(roles.ASSETS_CHANGE)
def premise_move_out(request, pk, customer_pk):
    premise = get_object_or_404(Premise, pk=pk)
    customer = get_object_or_404(Customer, pk=customer_pk)
    _run(request, forms.WhenForm(request.POST),
         lambda d, at: history.move_out(customer, premise, at, note=d["note"], actor=request.user),
         _("Move-out recorded"))
    return redirect("premise-detail", pk=pk)
