"""Settings > API tokens: administrators create tokens (the secret shown once) and revoke them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import roles, tokens
from meterhub.accounts.models import ApiToken
from meterhub.web import forms
from meterhub.web.access import requires


@requires(roles.OPERATORS_MANAGE)
def token_list(request):
    request.section = "settings"
    form = forms.ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, secret = tokens.create_token(data["owner"], data["name"], data["scopes"], data["days"],
                                                actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Created token %(t)s") % {"t": token})
            form = forms.ApiTokenForm()
    return render(request, "web/api_tokens.html", {
        "tokens": ApiToken.objects.select_related("owner"), "form": form, "secret": secret, "now": timezone.now()})


@require_POST
@requires(roles.OPERATORS_MANAGE)
def token_revoke(request, pk):
    token = tokens.revoke_token(get_object_or_404(ApiToken, pk=pk), actor=request.user)
    messages.success(request, _("Revoked token %(t)s") % {"t": token})
    return redirect("api-token-list")
