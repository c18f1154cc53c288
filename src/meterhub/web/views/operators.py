"""Settings > Operators: administrators add, change, disable and re-enable accounts."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import roles, services
from meterhub.accounts.models import User
from meterhub.web import forms
from meterhub.web.access import requires


def _settings(request):
    request.section = "settings"


@requires(roles.OPERATORS_MANAGE)
def operator_list(request):
    _settings(request)
    return render(request, "web/operator_list.html",
                  {"operators": User.objects.order_by("username"), "now": timezone.now()})


@requires(roles.OPERATORS_MANAGE)
def operator_new(request):
    _settings(request)
    form = forms.NewOperatorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.create_operator(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Added operator %(u)s") % {"u": user.username})
            return redirect("operator-list")
    return render(request, "web/simple_form.html", {"form": form, "title": _("New operator")})


@requires(roles.OPERATORS_MANAGE)
def operator_edit(request, pk):
    _settings(request)
    operator = get_object_or_404(User, pk=pk)
    form = forms.OperatorForm(request.POST or None, instance=User.objects.get(pk=pk))
    reset = forms.PasswordResetForm()
    if request.method == "POST" and form.is_valid():
        services.update_operator(operator, actor=request.user, **form.cleaned_data)
        messages.success(request, _("Saved %(u)s") % {"u": operator.username})
        return redirect("operator-list")
    return render(request, "web/operator_edit.html", {"form": form, "reset": reset, "operator": operator})


@require_POST
@requires(roles.OPERATORS_MANAGE)
def operator_set_active(request, pk, active: bool):
    operator = get_object_or_404(User, pk=pk)
    try:
        services.set_operator_active(operator, active, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, (_("Enabled %(u)s") if active else _("Disabled %(u)s")) % {"u": operator.username})
    return redirect("operator-list")


@require_POST
@requires(roles.OPERATORS_MANAGE)
def operator_reset_password(request, pk):
    operator = get_object_or_404(User, pk=pk)
    form = forms.PasswordResetForm(request.POST)
    if form.is_valid():
        try:
            services.reset_password(operator, form.cleaned_data["password"], actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Password changed for %(u)s") % {"u": operator.username})
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect("operator-edit", pk=pk)
