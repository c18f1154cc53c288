"""Who may call an API route: every route names one capability (accounts/roles.py).

Two schemes, tried in this order: a bearer token (`Authorization: Bearer mh_...`, whose
scopes must include the capability, and whose owner must still have it), and the console's
session cookie (the operator's role decides). `guards()` is the one list every route uses.
A caller nobody recognises gets 401; a recognised caller without the capability gets 403;
a recognised caller over its rate gets 429 (api/ratelimit.py).
"""

from __future__ import annotations

from django.conf import settings
from ninja.errors import AuthorizationError
from ninja.security import APIKeyCookie, HttpBearer

from meterhub.accounts import context, tokens
from meterhub.api import ratelimit


def _needs(capability: str) -> AuthorizationError:
    return AuthorizationError(message=f"needs the {capability} capability")


def _act_as(request, user) -> None:
    """Actions taken through a token are the owner's, in the audit log too."""
    request.user = user
    acting = context.current.get()
    context.current.set(context.Acting(user=user, ip=acting.ip or context.client_ip(request),
                                       user_agent=acting.user_agent))


class ApiTokenBearer(HttpBearer):
    """An API token: its scopes, within its owner's role, decide."""

    def __init__(self, capability: str):
        self.capability = capability
        super().__init__()

    def authenticate(self, request, token):
        found = tokens.live_token(token, ip=context.client_ip(request))
        if found is None:
            return None
        if not found.allows(self.capability):
            raise _needs(self.capability)
        ratelimit.hit(f"token:{found.pk}")
        request.api_token = found
        _act_as(request, found.owner)
        return found.owner


class ConsoleSession(APIKeyCookie):
    """The console's session cookie, with the operator's role deciding."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, capability: str):
        self.capability = capability
        super().__init__(csrf=True)  # unsafe methods need the console's CSRF token, as forms do

    def authenticate(self, request, key):
        user = request.user
        if not user.is_authenticated:
            return None
        if not user.has_capability(self.capability):
            raise _needs(self.capability)
        ratelimit.hit(f"user:{user.pk}")
        return user


def guards(capability: str) -> list:
    return [ApiTokenBearer(capability), ConsoleSession(capability)]


def caller_has(request, capability: str) -> bool:
    """Whether this caller may also see what `capability` guards (customers' personal data, say):
    the operator's role has it and, for a token, so do its scopes."""
    token = getattr(request, "api_token", None)
    return request.user.has_capability(capability) and (token is None or token.allows(capability))
