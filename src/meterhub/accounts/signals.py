from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from meterhub.accounts.backends import record_login
from meterhub.accounts.models import LoginEvent


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    record_login(request, user.username, LoginEvent.Outcome.SUCCESS, user)
    if user.locked_until is not None:
        user.locked_until = None
        user.save(update_fields=["locked_until"])


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record_login(request, user.username, LoginEvent.Outcome.LOGOUT, user)
