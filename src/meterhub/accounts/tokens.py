"""API tokens: create (the secret shown once), revoke, and find the live token behind a secret."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.accounts.models import ApiToken, User
from meterhub.accounts.roles import capabilities_of

PREFIX = "mh_"
MAX_DAYS = 366


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(owner: User, name: str, scopes, days: int, *, actor=None) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is not stored and cannot be shown again."""
    scopes = sorted(set(scopes))
    beyond = [s for s in scopes if s not in capabilities_of(owner.role)]
    if beyond:
        raise ValidationError(_("%(u)s's role does not have: %(s)s") % {"u": owner.username, "s": ", ".join(beyond)})
    if not scopes:
        raise ValidationError(_("A token needs at least one scope"))
    if not name.strip():
        raise ValidationError(_("A token needs a name"))
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(_("A token lasts 1 to %(n)d days") % {"n": MAX_DAYS})
    if not owner.is_active:
        raise ValidationError(_("%(u)s is disabled") % {"u": owner.username})
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(name=name.strip(), owner=owner, prefix=secret[:10], secret_hash=_hash(secret),
                                    scopes=scopes, expires_at=timezone.now() + timedelta(days=days))
    audit.record("token_create", token, {"owner": [None, owner.username], "scopes": [None, scopes],
                                         "expires_at": [None, token.expires_at.isoformat()]}, actor=actor)
    return token, secret


def revoke_token(token: ApiToken, *, actor=None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record("token_revoke", token, {"revoked_at": [None, token.revoked_at.isoformat()]}, actor=actor)
    return token


def live_token(secret: str, ip: str | None = None) -> ApiToken | None:
    """The token behind the secret if it is neither revoked nor expired nor its owner disabled,
    marked as used now; None otherwise."""
    if not secret.startswith(PREFIX):
        return None
    token = ApiToken.objects.select_related("owner").filter(secret_hash=_hash(secret)).first()
    now = timezone.now()
    if token is None or not token.is_live(now):
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
    token.last_used_at, token.last_used_ip = now, ip
    return token
