"""API tokens: scopes within the owner's role, expiry, revocation, last use, audit; rate limits."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from meterhub.accounts import tokens
from meterhub.accounts.models import ApiToken, AuditEntry
from meterhub.accounts.roles import ASSETS_VIEW, COMMANDS_SEND, REPORTS_VIEW, Role
from meterhub.api import ratelimit

pytestmark = pytest.mark.django_db
METERS = "/api/v1/meters"


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def owner(make_operator):
    return make_operator(Role.OPERATOR, username="integrator")


def test_a_token_with_the_scope_reads_and_marks_its_use(client, owner, site):
    token, secret = tokens.create_token(owner, "billing sync", [ASSETS_VIEW], days=30)
    assert secret.startswith("mh_") and token.secret_hash != secret and secret not in str(token.__dict__)
    response = client.get(METERS, **bearer(secret), REMOTE_ADDR="10.0.0.7")
    assert response.status_code == 200, response.content
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_ip == "10.0.0.7"


def test_a_token_without_the_scope_gets_403_naming_it(client, owner):
    _, secret = tokens.create_token(owner, "meters only", [ASSETS_VIEW], days=30)
    response = client.get("/api/v1/meters/1/readings", **bearer(secret))
    assert response.status_code == 403
    assert response.json() == {"detail": f"needs the {REPORTS_VIEW} capability"}


@pytest.mark.parametrize("spoil", ["expired", "revoked", "owner_disabled", "unknown", "not_ours"])
def test_dead_tokens_are_refused_with_401(client, owner, spoil):
    token, secret = tokens.create_token(owner, "t", [ASSETS_VIEW], days=30)
    if spoil == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif spoil == "revoked":
        tokens.revoke_token(token)
    elif spoil == "owner_disabled":
        owner.is_active = False
        owner.save()
    elif spoil == "unknown":
        secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    else:
        secret = "Zm9vOmJhcg=="
    assert client.get(METERS, **bearer(secret)).status_code == 401


def test_a_scope_the_owner_lost_is_refused(client, owner):
    _, secret = tokens.create_token(owner, "t", [ASSETS_VIEW], days=30)
    owner.role = Role.FINANCE  # finance still views assets
    owner.save()
    assert client.get(METERS, **bearer(secret)).status_code == 200
    owner.role = "nobody"
    owner.save()
    assert client.get(METERS, **bearer(secret)).status_code == 403


def test_scopes_are_limited_to_the_owners_role(make_operator):
    readonly = make_operator(Role.READONLY)
    with pytest.raises(ValidationError, match="commands.send"):
        tokens.create_token(readonly, "t", [ASSETS_VIEW, COMMANDS_SEND], days=30)
    with pytest.raises(ValidationError):
        tokens.create_token(readonly, "t", [], days=30)
    with pytest.raises(ValidationError):
        tokens.create_token(readonly, "t", [ASSETS_VIEW], days=0)
    assert not ApiToken.objects.exists()


def test_creation_and_revocation_are_audited_without_the_secret(owner, make_operator):
    admin = make_operator(Role.ADMINISTRATOR)
    token, secret = tokens.create_token(owner, "t", [ASSETS_VIEW], days=7, actor=admin)
    tokens.revoke_token(token, actor=admin)
    tokens.revoke_token(token, actor=admin)  # twice: one entry
    entries = list(AuditEntry.objects.filter(object_type="apitoken").order_by("id"))
    assert [(e.action, e.actor_name) for e in entries] == [("token_create", admin.username),
                                                           ("token_revoke", admin.username)]
    assert entries[0].changes["scopes"] == [None, [ASSETS_VIEW]]
    assert all(secret not in str(e.changes) for e in entries)


@override_settings(API_RATE_LIMIT=3, API_RATE_WINDOW_S=3600)
def test_a_token_over_its_rate_gets_429_with_retry_after(client, owner, make_operator):
    _, secret = tokens.create_token(owner, "t", [ASSETS_VIEW], days=30)
    assert [client.get(METERS, **bearer(secret)).status_code for _ in range(3)] == [200] * 3
    response = client.get(METERS, **bearer(secret))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    _, other = tokens.create_token(make_operator(Role.READONLY), "t", [ASSETS_VIEW], days=30)
    assert client.get(METERS, **bearer(other)).status_code == 200  # counted per token


@override_settings(API_RATE_LIMIT=2, API_RATE_WINDOW_S=3600)
def test_a_session_is_rate_limited_too(client, owner):
    client.force_login(owner)
    assert [client.get(METERS).status_code for _ in range(3)] == [200, 200, 429]


@override_settings(API_RATE_LIMIT=2, API_RATE_WINDOW_S=60)
def test_the_window_is_fixed_and_old_windows_are_swept():
    assert [ratelimit.hit("c", now=t) for t in (120.0, 150.0)] == [1, 2]
    with pytest.raises(ratelimit.RateLimited) as refused:
        ratelimit.hit("c", now=170.5)
    assert refused.value.retry_after == 10
    assert ratelimit.hit("c", now=180.0) == 1  # a new window
    from meterhub.accounts.models import ApiRateWindow
    assert list(ApiRateWindow.objects.filter(caller="c").values_list("window_start", flat=True)) == [180]


def test_console_creates_shows_the_secret_once_and_revokes(client, owner, make_operator):
    client.force_login(make_operator(Role.ADMINISTRATOR))
    page = client.post("/settings/api-tokens/", {"owner": "integrator", "name": "scada", "scopes": [ASSETS_VIEW],
                                                 "days": 10})
    assert page.status_code == 200
    token = ApiToken.objects.get(name="scada")
    secret = page.context["secret"]
    assert secret in page.content.decode() and tokens.live_token(secret) == token
    assert secret not in client.get("/settings/api-tokens/").content.decode()
    client.post(f"/settings/api-tokens/{token.pk}/revoke/")
    assert tokens.live_token(secret) is None


def test_console_refuses_scopes_beyond_the_owners_role(client, owner, make_operator):
    client.force_login(make_operator(Role.ADMINISTRATOR))
    page = client.post("/settings/api-tokens/", {"owner": "integrator", "name": "x",
                                                 "scopes": ["operators.manage"], "days": 10})
    assert "operators.manage" in page.content.decode() and not ApiToken.objects.exists()


def test_cli_creates_lists_and_revokes(owner):
    from click.testing import CliRunner

    from meterhub.cli import main

    runner = CliRunner()
    created = runner.invoke(main, ["token", "create", "--owner", "integrator", "--name", "etl",
                                   "--scope", ASSETS_VIEW, "--days", "5"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    token = tokens.live_token(secret)
    assert token is not None and token.scopes == [ASSETS_VIEW]
    assert "live" in runner.invoke(main, ["token", "list"]).output
    assert runner.invoke(main, ["token", "revoke", str(token.pk)]).exit_code == 0
    assert tokens.live_token(secret) is None and "revoked" in runner.invoke(main, ["token", "list"]).output
    refused = runner.invoke(main, ["token", "create", "--owner", "integrator", "--name", "x",
                                   "--scope", "operators.manage"])
    assert refused.exit_code != 0 and "operators.manage" in refused.output
