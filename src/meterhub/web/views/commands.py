"""Operators queue commands for a meter; the head-end carries them out."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.assets.models import Meter
from meterhub.comms.commands import request_command
from meterhub.web.access import requires


@require_POST
@requires(roles.COMMANDS_SEND)
def meter_command(request, pk):
    meter = get_object_or_404(Meter, pk=pk)
    kind = request.POST.get("kind", "")
    try:
        command = request_command(meter, kind, actor=request.user, reason=request.POST.get("reason", "")[:200])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Queued: %(c)s. The head-end carries it out and confirms it.")
                         % {"c": command.get_kind_display()})
    return redirect("meter-detail", pk=pk)
