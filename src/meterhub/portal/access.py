"""Every portal view says who may open it, and the decorator enforces it.

`portal_view(kind)`:
  PUBLIC    anyone (sign-in pages, the web-app manifest and service worker);
  CUSTOMER  a live portal session (portal.sessions), else a redirect to the portal sign-in;
  ACCOUNT   as CUSTOMER, and the URL's `pk` must be an account bound to this customer: any
            other id is 404 (not 403: whether an account exists is not told). The view gets
            the Account as `account` instead of `pk`.
The kind is kept on the view (`portal_access`), as console views keep `.capability`, so a
test walks every portal route and proves none was forgotten. The console's sign-in is never
consulted: an operator signed in to the console is an anonymous visitor here.
Pages with personal data are sent with Cache-Control: no-store (shared phones, back button).
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from meterhub.billing.models import Account
from meterhub.portal import sessions

PUBLIC, CUSTOMER, ACCOUNT = "public", "customer", "account"


def sign_in_redirect(request):
    response = redirect(f"{reverse('portal:sign-in')}?{urlencode({'next': request.get_full_path()})}")
    if sessions.COOKIE in request.COOKIES:
        sessions.clear_cookie(response)
    return response


def bound_account(user, pk) -> Account:
    account = (Account.objects.select_related("site", "customer", "meter", "premise")
               .filter(pk=pk, portal_bindings__user=user, portal_bindings__unbound_at__isnull=True).first())
    if account is None:
        raise Http404("no such account bound to this customer")
    return account


def portal_view(kind: str):
    if kind not in (PUBLIC, CUSTOMER, ACCOUNT):
        raise ValueError(f"unknown portal access {kind!r}")

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            session = sessions.current(request.COOKIES.get(sessions.COOKIE))
            request.portal_session = session
            if kind != PUBLIC:
                if session is None:
                    return sign_in_redirect(request)
                if kind == ACCOUNT:
                    account = kwargs["account"] = bound_account(session.user, kwargs.pop("pk"))
                    timezone.activate(ZoneInfo(account.site.time_zone))  # the account's local time
            response = view(request, *args, **kwargs)
            if kind != PUBLIC:
                response["Cache-Control"] = "no-store"
            return response

        guarded.portal_access = kind
        return guarded

    return decorate
