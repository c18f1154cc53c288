"""Who may call an API route: every route names one capability (accounts/roles.py).

Today the caller is a signed-in console operator (the session cookie). `guards()` is the
one place that lists the schemes a route accepts, so token auth with scopes (a later
release) is one more class here, mapping scopes to the same capabilities; no route changes.
A caller nobody recognises gets 401; a recognised caller without the capability gets 403.
"""

from __future__ import annotations

from django.conf import settings
from ninja.errors import AuthorizationError
from ninja.security import APIKeyCookie


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
            raise AuthorizationError(message=f"needs the {self.capability} capability")
        return user


def guards(capability: str) -> list:
    return [ConsoleSession(capability)]
