"""Operator accounts, login history and the append-only audit log."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from meterhub.accounts.roles import Role, capabilities_of


class User(AbstractUser):
    """A person who signs in to the console (operators of every role)."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.READONLY)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    # Pages show times in this zone; blank means the zone of the (first) site.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    def has_capability(self, capability: str) -> bool:
        return self.is_active and capability in capabilities_of(self.role)

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


class LoginEvent(models.Model):
    """Every sign-in attempt, successful or not. Never updated."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        BAD_PASSWORD = "bad_password", _("Wrong user name or password")
        LOCKED = "locked", _("Account locked")
        DISABLED = "disabled", _("Account disabled")
        LOGOUT = "logout", _("Signed out")

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    username = models.CharField(_("user name"), max_length=150, db_index=True)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    @property
    def success(self) -> bool:
        return self.outcome == self.Outcome.SUCCESS


class AuditEntry(models.Model):
    """One change made by a person or a process. Append-only: auditors read this."""

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT)
    actor_name = models.CharField(_("who"), max_length=150)  # kept if the account is renamed
    action = models.CharField(_("action"), max_length=40, db_index=True)
    object_type = models.CharField(_("object type"), max_length=40, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit entries are append-only")


class ApiToken(models.Model):
    """A bearer token for the API, acting as its owner but limited to its scopes.

    Only a SHA-256 of the secret is kept (the secret is shown once, at creation); a token
    carries 256 random bits, so a fast hash is enough and lets a request find it by index.
    """

    name = models.CharField(_("name"), max_length=80)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens", verbose_name=_("owner"))
    prefix = models.CharField(_("prefix"), max_length=12)  # the secret's first characters, to recognise it
    secret_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(_("scopes"), default=list)  # capability names (accounts/roles.py)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def is_live(self, now) -> bool:
        return self.revoked_at is None and self.expires_at > now and self.owner.is_active

    def allows(self, capability: str) -> bool:
        """In the token's scopes and still the owner's: a role taken away takes the scope with it."""
        return capability in self.scopes and self.owner.has_capability(capability)


class ApiRateWindow(models.Model):
    """Requests counted per caller per fixed window (api/ratelimit.py): one row per caller and window,
    shared by every process through the database."""

    caller = models.CharField(max_length=80)  # "token:<id>" or "user:<id>"
    window_start = models.BigIntegerField()  # Unix seconds, a multiple of the window length
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caller", "window_start"], name="api_rate_window_unique")]
