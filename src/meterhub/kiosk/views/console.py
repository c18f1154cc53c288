"""Settings > Self-service terminals: the register with each terminal's online status, and for
those who manage terminals: register (the key shown once), edit, enable/disable, new key."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.assets import registry
from meterhub.kiosk import activity, terminals
from meterhub.kiosk.forms import TerminalForm
from meterhub.kiosk.models import Terminal
from meterhub.web.access import requires


def _key_page(request, issued: terminals.Issued, first: bool):
    request.section = "settings"
    return render(request, "kiosk/console/terminal_key.html", {"issued": issued, "first": first,
                                                                "pair_url": request.build_absolute_uri("/kiosk/pair/")})


@requires(roles.ASSETS_VIEW)
def terminal_list(request):
    request.section = "settings"
    now = timezone.now()
    rows = [(t, terminals.state_of(t, now)) for t in Terminal.objects.select_related("site")]
    return render(request, "kiosk/console/terminal_list.html", {
        "rows": rows, "online_within_s": int(terminals.online_within().total_seconds())})


@requires(roles.ASSETS_VIEW)
def terminal_detail(request, pk):
    request.section = "settings"
    terminal = get_object_or_404(Terminal.objects.select_related("site"), pk=pk)
    return render(request, "kiosk/console/terminal_detail.html", {
        "terminal": terminal, "state": terminals.state_of(terminal), "today": activity.today(terminal)})


@requires(roles.TERMINALS_MANAGE)
def terminal_new(request):
    request.section = "settings"
    form = TerminalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _key_page(request, terminals.register(form.save(commit=False), actor=request.user), first=True)
    return render(request, "kiosk/console/terminal_form.html", {"form": form, "terminal": None})


@requires(roles.TERMINALS_MANAGE)
def terminal_edit(request, pk):
    request.section = "settings"
    terminal = get_object_or_404(Terminal, pk=pk)
    before = registry.snapshot(terminal)
    form = TerminalForm(request.POST or None, instance=terminal)
    if request.method == "POST" and form.is_valid():
        terminals.change(form.save(commit=False), before=before, actor=request.user)
        messages.success(request, _("Saved %(obj)s") % {"obj": terminal})
        return redirect("terminal-detail", pk=terminal.pk)
    return render(request, "kiosk/console/terminal_form.html", {"form": form, "terminal": terminal})


@require_POST
@requires(roles.TERMINALS_MANAGE)
def terminal_set_enabled(request, pk, enabled):
    terminal = terminals.set_enabled(get_object_or_404(Terminal, pk=pk), enabled, actor=request.user)
    if enabled:
        messages.success(request, _("%(t)s is in service again.") % {"t": terminal})
    else:
        messages.success(request, _("%(t)s is out of service: it shows so at its next request.") % {"t": terminal})
    return redirect("terminal-detail", pk=terminal.pk)


@require_POST
@requires(roles.TERMINALS_MANAGE)
def terminal_rotate_key(request, pk):
    return _key_page(request, terminals.rotate_key(get_object_or_404(Terminal, pk=pk), actor=request.user),
                     first=False)
