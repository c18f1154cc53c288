"""A customer's contact preferences: how they want to hear from us and when not to be woken.

One function to read them (a customer without a row gets the defaults dispatch assumes:
SMS on, e-mail off, no WeChat, no quiet hours) and one to change them, audited. The console's
customer page and the customer portal both go through these.
"""

from __future__ import annotations

from django.db import transaction

from meterhub.accounts import audit
from meterhub.assets.models import Customer
from meterhub.notifications.models import ContactPreference

FIELDS = ("sms", "email", "wechat_openid", "quiet_from", "quiet_until")


def preference_of(customer: Customer) -> ContactPreference:
    """The customer's row, or an unsaved one with the defaults."""
    return ContactPreference.objects.filter(customer=customer).first() or ContactPreference(customer=customer)


@transaction.atomic
def update(customer: Customer, values: dict, actor=None, actor_name: str | None = None) -> ContactPreference:
    """Save the given preferences (FIELDS; others are ignored) and audit what changed, as done by
    the operator `actor` or, from the portal, by `actor_name` (accounts.audit.entry)."""
    pref = ContactPreference.objects.select_for_update().filter(customer=customer).first() \
        or ContactPreference(customer=customer)
    before = {f: getattr(pref, f) for f in FIELDS}
    for field in FIELDS:
        if field in values:
            setattr(pref, field, values[field])
    pref.full_clean()
    pref.save()
    changes = audit.diff(before, {f: getattr(pref, f) for f in FIELDS})
    if changes:
        audit.record("contact_preference", customer, changes, actor=actor, actor_name=actor_name)
    return pref
