"""Every console view names the one capability it needs.

`requires` wraps a view: anonymous users go to the login page, signed-in users
without the capability get 403. The capability is kept on the view function so a
test can walk every URL and prove none was forgotten.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def requires(capability: str):
    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user.has_capability(capability):
                raise PermissionDenied(capability)
            return view(request, *args, **kwargs)

        guarded.capability = capability
        return guarded

    return decorate


def can(user, capability: str) -> bool:
    return bool(user.is_authenticated and user.has_capability(capability))
