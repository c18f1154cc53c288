"""Operator account management: plain functions, each change audited."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from meterhub.accounts import audit
from meterhub.accounts.models import User
from meterhub.accounts.roles import Role


@transaction.atomic
def create_operator(*, username: str, role: str, password: str, full_name: str = "",
                    email: str = "", phone: str = "", actor=None) -> User:
    if role not in Role.values:
        raise ValidationError(_("Unknown role %(role)s; choose one of %(roles)s")
                              % {"role": role, "roles": ", ".join(Role.values)})
    if User.objects.filter(username=username).exists():
        raise ValidationError(_("An operator named %(name)s already exists") % {"name": username})
    user = User(username=username, role=role, full_name=full_name, email=email, phone=phone)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    audit.record("create", user, {"role": [None, role], "username": [None, username]}, actor=actor)
    return user


@transaction.atomic
def update_operator(user: User, *, actor=None, **fields) -> User:
    allowed = {"role", "full_name", "email", "phone", "time_zone"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"cannot change {', '.join(sorted(unknown))}")
    before = {k: getattr(user, k) for k in fields}
    for key, value in fields.items():
        setattr(user, key, value)
    user.full_clean()
    user.save()
    changes = audit.diff(before, fields)
    if changes:
        audit.record("update", user, changes, actor=actor)
    return user


@transaction.atomic
def set_operator_active(user: User, active: bool, *, actor=None) -> User:
    """Disable, or re-enable (which also lifts a failed-login lock)."""
    if not active and actor is not None and actor.pk == user.pk:
        raise ValidationError(_("You cannot disable your own account"))
    changes = audit.diff(
        {"is_active": user.is_active, "locked_until": user.locked_until},
        {"is_active": active, "locked_until": None if active else user.locked_until},
    )
    user.is_active = active
    if active:
        user.locked_until = None
    user.save(update_fields=["is_active", "locked_until"])
    audit.record("enable" if active else "disable", user, changes, actor=actor)
    return user


@transaction.atomic
def reset_password(user: User, password: str, *, actor=None) -> User:
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit.record("reset_password", user, {"password": ["***", "***"]}, actor=actor)
    return user
