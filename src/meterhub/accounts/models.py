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
