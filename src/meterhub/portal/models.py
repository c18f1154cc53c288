"""The customer portal's own tables: customers sign in with a phone number, not as operators.

A `PortalUser` is a verified phone number. It sees only the billing accounts it has bound
(`Binding`), each bound after real-name verification (portal.binding). One-time codes are
kept hashed (`OneTimeCode`); sessions are rows addressed by a hashed cookie token
(`PortalSession`), separate from the console's sessions, so neither grants the other.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterhub.billing.models import Account
from meterhub.portal.masking import mask_phone


class PortalUser(models.Model):
    phone = models.CharField(_("phone"), max_length=20, unique=True)  # normalised: digits, optional leading +
    created_at = models.DateTimeField(_("first signed in"), default=timezone.now)
    last_signed_in_at = models.DateTimeField(_("last signed in"), null=True, blank=True)

    class Meta:
        verbose_name = _("portal user")

    def __str__(self):
        return mask_phone(self.phone)

    @property
    def audit_name(self) -> str:
        """How the audit log names this customer (never the whole number)."""
        return f"customer:{mask_phone(self.phone)}"


class OneTimeCode(models.Model):
    """A six-digit code sent by SMS; only its salted HMAC is stored (portal.codes)."""

    class Purpose(models.TextChoices):
        SIGN_IN = "sign_in", _("Sign in")
        BIND = "bind", _("Bind an account")

    phone = models.CharField(max_length=20, db_index=True)
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(PortalUser, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    salt = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    message = models.ForeignKey("notifications.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["ip", "created_at"])]


class PortalSession(models.Model):
    """A signed-in phone. The cookie holds a random token; only its SHA-256 is stored."""

    user = models.ForeignKey(PortalUser, on_delete=models.CASCADE, related_name="sessions")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)


class Binding(models.Model):
    """A portal user may see this account, from bound_at until unbound_at."""

    user = models.ForeignKey(PortalUser, on_delete=models.CASCADE, related_name="bindings")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="portal_bindings")
    bound_at = models.DateTimeField(default=timezone.now)
    unbound_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["bound_at", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "account"], condition=Q(unbound_at__isnull=True),
                                               name="one_live_binding_per_user_account")]


class BindAttempt(models.Model):
    """Every try at binding an account, for the lockout (portal.binding) and for auditors."""

    class Outcome(models.TextChoices):
        BOUND = "bound", _("Bound")
        MISMATCH = "mismatch", _("Details did not match")
        WRONG_CODE = "wrong_code", _("Wrong code")
        LOCKED = "locked", _("Refused: locked")

    user = models.ForeignKey(PortalUser, on_delete=models.CASCADE, related_name="bind_attempts")
    account_number = models.CharField(max_length=32, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
