"""Every kiosk view says what it needs of the device, and the decorator enforces it.

`kiosk_view(kind)`:
  PUBLIC      anyone (the pairing page);
  PAIRED      a device paired with a terminal, in service or not (the heartbeat, which is
              how an out-of-service screen learns it is back), else a redirect to pairing;
  IN_SERVICE  as PAIRED, and the terminal enabled: otherwise the out-of-service page (503),
              whatever was asked for, and any visit on the device ends;
  VISIT       as IN_SERVICE, with a visit going on (kiosk.visits), else back to the start
              screen. The view gets the Visit as `visit`.
The terminal's row is read on every request, so disabling it in the console takes effect
at once. The kind is kept on the view (`kiosk_access`) so a test walks every kiosk route.
Neither the console's sign-in nor the portal's counts here. Nothing is cached (shared screen).
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.shortcuts import redirect
from django.utils import translation

from meterhub.kiosk import pairing, visits
from meterhub.kiosk.pages import screen

PUBLIC, PAIRED, IN_SERVICE, VISIT = "public", "paired", "in_service", "visit"
KINDS = (PUBLIC, PAIRED, IN_SERVICE, VISIT)


def _language(request, terminal) -> None:
    """The customer's choice for this visit, else the terminal's start language."""
    chosen = request.session.get(visits.LANGUAGE) or (terminal.language if terminal else "")
    if chosen in dict(settings.LANGUAGES):
        translation.activate(chosen)
        request.LANGUAGE_CODE = chosen


def out_of_service(request, terminal):
    visits.end(request)
    translation.activate(terminal.language)
    request.LANGUAGE_CODE = terminal.language
    return screen(request, "kiosk/out_of_service.html", status=503)


def _to_pairing(request):
    response = redirect("kiosk:pair")
    if pairing.COOKIE in request.COOKIES:
        pairing.clear_cookie(response)
    return response


def _refusal(request, kind: str, terminal, kwargs: dict):
    """The response instead of the view's, if the device may not have it; None if it may."""
    if kind == PUBLIC:
        return None
    if terminal is None:
        return _to_pairing(request)
    if kind in (IN_SERVICE, VISIT) and not terminal.enabled:
        return out_of_service(request, terminal)
    if kind == VISIT:
        visit = visits.current(request, terminal)
        if visit is None:
            return redirect("kiosk:start")
        kwargs["visit"] = visit
    return None


def kiosk_view(kind: str):
    if kind not in KINDS:
        raise ValueError(f"unknown kiosk access {kind!r}")

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            terminal = request.terminal = pairing.paired_terminal(request)
            _language(request, terminal)
            response = _refusal(request, kind, terminal, kwargs) or view(request, *args, **kwargs)
            response["Cache-Control"] = "no-store"
            return response

        guarded.kiosk_access = kind
        return guarded

    return decorate
