"""The terminal's screens: pairing, start (look up an account), the account with its meter read
live, language, finishing, and the heartbeat."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from meterhub.accounts import context
from meterhub.billing import supply
from meterhub.comms.models import Command
from meterhub.kiosk import live, lookup, pairing, terminals, visits
from meterhub.kiosk.access import IN_SERVICE, PAIRED, PUBLIC, VISIT, kiosk_view
from meterhub.kiosk.forms import AmountForm, LookupForm, PairForm
from meterhub.kiosk.pages import APP_VERSION, IDLE_S, screen
from meterhub.portal import overview
from meterhub.portal.masking import mask_name
from meterhub.portal.progress import supply_progress

PRESETS = (50, 100, 200, 500)


@kiosk_view(PUBLIC)
def pair(request):
    form = PairForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            terminal = pairing.pair(form.cleaned_data["code"], form.cleaned_data["key"])
        except pairing.PairingError as exc:
            form.add_error(None, str(exc))
        else:
            visits.end(request)
            response = redirect("kiosk:start")
            pairing.set_cookie(response, request, terminal)
            return response
    return screen(request, "kiosk/pair.html", {"form": form})


@kiosk_view(IN_SERVICE)
def start(request):
    form = LookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            found = lookup.look_up(request.terminal, form.cleaned_data["number"])
        except lookup.LookupRefused as exc:
            form.add_error("number", str(exc))
        else:
            visits.start(request, request.terminal, found.account)
            return redirect("kiosk:account")
    else:
        visits.leave(request)
    return screen(request, "kiosk/start.html", {"form": form}, idle=IDLE_S["start"])


@require_POST
@kiosk_view(IN_SERVICE)
def finish(request):
    visits.end(request)
    return redirect("kiosk:start")


@require_POST
@kiosk_view(IN_SERVICE)
def language(request):
    chosen = request.POST.get("language", "")
    if chosen in dict(settings.LANGUAGES):
        request.session[visits.LANGUAGE] = chosen
    target = request.POST.get("next", "")
    if not (target.startswith("/kiosk/") and url_has_allowed_host_and_scheme(target, {request.get_host()})):
        target = "/kiosk/"
    return redirect(target)


def account_screen(request, visit: visits.Visit, amount_form: AmountForm | None = None, status: int = 200):
    """The account as the customer sees it here; also shown again when an amount is refused."""
    account = visit.account
    money = overview.money_of(account)
    suggested = money.to_restore if money.prepaid else money.amount_due
    return screen(request, "kiosk/account.html", {
        "account": account, "masked_name": mask_name(account.customer.name), "money": money,
        "supply": supply_progress(supply.state_of(account)), "suggested": suggested,
        "presets": [p for p in PRESETS if p != suggested], "amount_form": amount_form or AmountForm(),
        "live_readable": live.can_read(account.meter),
        "stored": None if live.can_read(account.meter) else live.last_stored(account.meter)},
        idle=IDLE_S["account"], status=status)


@kiosk_view(VISIT)
def account(request, visit):
    return account_screen(request, visit)


@require_POST
@kiosk_view(VISIT)
def live_start(request, visit):
    if len(visit.reads) >= visits.READS:
        return JsonResponse(live.Live("limit", True, str(live.READ_ENOUGH)).as_json())
    queued = live.request(visit.account.meter, request.terminal)
    if isinstance(queued, live.Live):
        return JsonResponse(queued.as_json())
    visits.remember(request, read=queued.pk)
    return JsonResponse({**live.reading_of(queued).as_json(),
                         "poll": reverse("kiosk:live-answer", kwargs={"command": queued.pk})})


@kiosk_view(VISIT)
def live_answer(request, visit, command):
    if command not in visit.reads:
        raise Http404("not a read of this visit")
    return JsonResponse(live.reading_of(get_object_or_404(Command.objects.select_related("meter__site"),
                                                          pk=command)).as_json())


@require_POST
@kiosk_view(PAIRED)
def heartbeat(request):
    terminal = request.terminal
    terminals.heartbeat(terminal, ip=context.client_ip(request), version=request.POST.get("version", ""))
    return JsonResponse({"in_service": terminal.enabled, "version": APP_VERSION,
                         "every_s": settings.KIOSK_HEARTBEAT_S})
