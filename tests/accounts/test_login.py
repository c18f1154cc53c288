"""Sign-in: every attempt recorded, lockout after repeated failures, disable and re-enable."""

import pytest
from django.test import Client
from django.urls import reverse

from meterhub.accounts import services
from meterhub.accounts.models import AuditEntry, LoginEvent
from tests.conftest import PASSWORD

UA = "Mozilla/5.0 (test browser)"


def attempt(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password},
                       HTTP_USER_AGENT=UA, REMOTE_ADDR="10.1.2.3")


def test_success_is_recorded_with_ip_and_browser(client, make_operator):
    make_operator("operator", "alice")
    response = attempt(client, "alice", PASSWORD)
    assert response.status_code == 302
    event = LoginEvent.objects.get(username="alice")
    assert (event.outcome, event.ip, event.user_agent) == ("success", "10.1.2.3", UA)


def test_failure_is_recorded_and_the_page_says_so(client, make_operator):
    make_operator("operator", "alice")
    response = attempt(client, "alice", "wrong password!")
    assert response.status_code == 200
    assert "correct" in response.content.decode()  # Django's "enter a correct username and password"
    assert LoginEvent.objects.filter(username="alice", outcome="bad_password").count() == 1


def test_unknown_user_is_recorded_without_revealing_it(client, db):
    response = attempt(client, "mallory", "guess guess")
    assert LoginEvent.objects.get(username="mallory").outcome == "bad_password"
    assert "locked" not in response.content.decode()


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, make_operator, settings):
    make_operator("operator", "alice")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        attempt(client, "alice", "wrong password!")
    response = attempt(client, "alice", PASSWORD)
    assert response.status_code == 200
    assert "locked" in response.content.decode()
    assert LoginEvent.objects.filter(username="alice", outcome="locked").count() == 1
    assert "_auth_user_id" not in client.session


def test_failures_below_the_limit_do_not_lock(client, make_operator, settings):
    make_operator("operator", "alice")
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        attempt(client, "alice", "wrong password!")
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_administrator_re_enabling_lifts_the_lock(client, make_operator, settings):
    alice = make_operator("operator", "alice")
    admin = make_operator("administrator", "root-admin")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        attempt(client, "alice", "wrong password!")
    alice.refresh_from_db()
    assert alice.locked_until is not None
    services.set_operator_active(alice, True, actor=admin)
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_disabled_account_cannot_sign_in_and_change_is_audited(client, make_operator):
    alice = make_operator("operator", "alice")
    admin = make_operator("administrator", "root-admin")
    services.set_operator_active(alice, False, actor=admin)
    response = attempt(client, "alice", PASSWORD)
    assert "disabled" in response.content.decode()
    entry = AuditEntry.objects.get(action="disable")
    assert (entry.actor, entry.object_repr, entry.changes["is_active"]) == (admin, "alice", [True, False])


def test_administrator_cannot_disable_themselves(make_operator):
    admin = make_operator("administrator", "root-admin")
    with pytest.raises(Exception, match="own account"):
        services.set_operator_active(admin, False, actor=admin)


def test_weak_password_and_unknown_role_are_refused(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.create_operator(username="bob", role="operator", password="123")
    with pytest.raises(ValidationError, match="Unknown role"):
        services.create_operator(username="bob", role="superhero", password=PASSWORD)


def test_login_history_page_searches_by_outcome(signed_in, make_operator):
    client, _admin = signed_in("administrator")
    make_operator("operator", "alice")
    attempt(Client(), "alice", "wrong password!")
    page = client.get(reverse("login-history"), {"outcome": "bad_password"}).content.decode()
    assert "alice" in page and "10.1.2.3" in page
    page = client.get(reverse("login-history"), {"outcome": "success", "username": "alice"}).content.decode()
    assert "10.1.2.3" not in page
