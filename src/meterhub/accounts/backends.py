"""Sign-in with lockout after repeated failures, every attempt recorded."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.utils import timezone

from meterhub.accounts import context
from meterhub.accounts.models import LoginEvent, User


def record_login(request, username: str, outcome: str, user: User | None = None) -> LoginEvent:
    return LoginEvent.objects.create(
        username=username[:150],
        user=user,
        outcome=outcome,
        ip=context.client_ip(request) if request is not None else None,
        user_agent=context.user_agent(request) if request is not None else "",
    )


def recent_failures(username: str) -> int:
    """Failed attempts in the window since the last successful sign-in."""
    since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_S)
    last_ok = (
        LoginEvent.objects.filter(username=username, outcome=LoginEvent.Outcome.SUCCESS, at__gte=since)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    failures = LoginEvent.objects.filter(
        username=username, outcome=LoginEvent.Outcome.BAD_PASSWORD, at__gte=last_ok or since
    )
    return failures.count()


class LockoutBackend(ModelBackend):
    """ModelBackend plus: locked accounts refused, failures counted, lock after the limit.

    The outcome is left on the request (request.login_outcome) so the form can say
    *why* a sign-in was refused without telling an attacker whether the name exists.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = User.objects.filter(username=username).first()
        now = timezone.now()
        if user is not None and user.locked_until and user.locked_until > now:
            return self._refuse(request, username, LoginEvent.Outcome.LOCKED, user)
        if user is not None and not user.is_active:
            # Check the password first so the disabled notice is only shown to its owner.
            if user.check_password(password):
                return self._refuse(request, username, LoginEvent.Outcome.DISABLED, user)
            return self._refuse(request, username, LoginEvent.Outcome.BAD_PASSWORD, user)
        found = super().authenticate(request, username=username, password=password, **kwargs)
        if found is not None:
            return found  # success is recorded by the user_logged_in signal
        self._refuse(request, username, LoginEvent.Outcome.BAD_PASSWORD, user)
        if user is not None and recent_failures(username) >= settings.LOGIN_FAILURE_LIMIT:
            user.locked_until = now + timedelta(seconds=settings.LOGIN_LOCKOUT_S)
            user.save(update_fields=["locked_until"])
        return None

    @staticmethod
    def _refuse(request, username, outcome, user):
        record_login(request, username, outcome, user)
        if request is not None:
            request.login_outcome = outcome
        return None
