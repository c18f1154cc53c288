"""Sites, customers, alarms, seals, commands: paged, filtered, personal data only to the entitled;
and the table of every API operation refuses a token without that operation's scope.
(Billing resources: test_billing.py; daily and monthly consumption: test_aggregates.py.)"""

import re

import pytest
from django.utils import timezone

from meterhub.accounts import tokens
from meterhub.accounts.roles import (
    ALARMS_VIEW,
    ASSETS_VIEW,
    BILLING_VIEW,
    COMMANDS_SEND,
    CUSTOMERS_PERSONAL,
    SEALS_VIEW,
    Role,
    capabilities_of,
)
from meterhub.alarms.models import Alarm
from meterhub.assets.models import Customer, Meter
from meterhub.comms.models import Command
from meterhub.seals.models import Seal

pytestmark = pytest.mark.django_db


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def admin(make_operator):
    return make_operator(Role.ADMINISTRATOR, username="boss")


def token_for(user, *scopes):
    return bearer(tokens.create_token(user, "t", scopes, days=1)[1])


@pytest.fixture
def meter(collector):
    return Meter.objects.create(serial="E1", site=collector.site, address="240101000001", collector=collector,
                                switch=Meter.Switch.RELAY)


def test_sites_page_by_id(client, admin, site):
    auth = token_for(admin, ASSETS_VIEW)
    from meterhub.assets.models import Site
    for i in range(3):
        Site.objects.create(code=f"s{i}", name=f"S{i}")
    first = client.get("/api/v1/sites?limit=2", **auth).json()
    second = client.get(f"/api/v1/sites?limit=2&after={first['next_after']}", **auth).json()
    assert [s["code"] for s in first["items"] + second["items"]] == ["north", "s0", "s1", "s2"]
    assert second["next_after"] is None
    assert client.get("/api/v1/sites?code=s1", **auth).json()["items"][0]["name"] == "S1"


def test_the_site_list_costs_as_many_queries_for_ten_sites_as_for_three(client, admin, db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from meterhub.assets.models import Site

    auth = token_for(admin, ASSETS_VIEW)

    def add_sites(numbers):
        for i in numbers:
            site = Site.objects.create(code=f"s{i:02}", name=f"S{i}")
            for n in range(i % 3):
                Meter.objects.create(serial=f"E{i}-{n}", site=site, address=f"{i:06}{n:06}", active=n != 1)

    def site_list():
        client.get("/api/v1/sites", **auth)  # what a new site invalidates (the default time zone) is cached again
        with CaptureQueriesContext(connection) as queries:
            body = client.get("/api/v1/sites", **auth).json()
        return body, [q["sql"] for q in queries.captured_queries]

    add_sites(range(3))
    _, three = site_list()
    add_sites(range(3, 10))
    body, ten = site_list()

    assert len(ten) == len(three), "\n".join(ten)
    assert [(s["code"], s["meters"]) for s in body["items"]] == [(f"s{i:02}", i % 3) for i in range(10)]


def test_customers_personal_data_needs_its_scope_and_the_id_number_never_leaves(client, admin, db):
    Customer.objects.create(account_no="A1", name="Li Wei", phone="13800000000", email="li@example.com",
                            id_number="110101199001011234")
    plain = client.get("/api/v1/customers", **token_for(admin, BILLING_VIEW)).json()["items"][0]
    assert plain["phone"] is None and plain["email"] is None and plain["name"] == "Li Wei"
    full = client.get("/api/v1/customers?account_no=A1", **token_for(admin, BILLING_VIEW, CUSTOMERS_PERSONAL))
    assert full.json()["items"][0]["phone"] == "13800000000"
    assert "110101199001011234" not in full.content.decode() and "id_number" not in full.content.decode()


def test_alarms_filter_by_state(client, admin, meter):
    now = timezone.now()
    for state in ("raised", "cleared"):
        Alarm.objects.create(kind="seal_open", severity="major", meter=meter, site=meter.site, raised_at=now,
                             last_at=now, state=state)
    auth = token_for(admin, ALARMS_VIEW)
    assert [a["state"] for a in client.get("/api/v1/alarms?state=raised", **auth).json()["items"]] == ["raised"]
    assert len(client.get("/api/v1/alarms?site=north", **auth).json()["items"]) == 2


def test_seals_by_meter(client, admin, meter):
    Seal.objects.create(serial="S000001", seal_type="plastic", state="installed", meter=meter,
                        position="terminal", updated_at=timezone.now(), code="secret-code")
    response = client.get(f"/api/v1/seals?meter_id={meter.pk}", **token_for(admin, SEALS_VIEW))
    assert response.json()["items"][0]["serial"] == "S000001" and "secret-code" not in response.content.decode()


def test_a_command_is_queued_once_audited_and_listed(client, admin, meter):
    response = client.post("/api/v1/commands", {"meter_id": meter.pk, "kind": "relay_trip", "reason": "unpaid"},
                           content_type="application/json", **token_for(admin, COMMANDS_SEND))
    assert response.status_code == 201, response.content
    command = Command.objects.get()
    assert (command.kind, command.requested_by, response.json()["id"]) == ("relay_trip", "boss", command.pk)
    listed = client.get(f"/api/v1/commands?meter_id={meter.pk}", **token_for(admin, ASSETS_VIEW)).json()
    assert [c["id"] for c in listed["items"]] == [command.pk]
    bad = client.post("/api/v1/commands", {"meter_id": meter.pk, "kind": "valve_open"},
                      content_type="application/json", **token_for(admin, COMMANDS_SEND))
    assert bad.status_code == 400 and "valve" in bad.json()["detail"] and Command.objects.count() == 1


def test_a_console_session_needs_csrf_to_send_a_command(admin, meter):
    from django.test import Client
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post("/api/v1/commands", {"meter_id": meter.pk, "kind": "relay_trip"},
                           content_type="application/json")
    assert response.status_code == 403 and not Command.objects.exists()


def operations():
    """(method, path, capability) for every operation in the schema: the table a new route joins by itself."""
    from meterhub.api.urls import api
    schema = api.get_openapi_schema()
    return [(method, path, op["x-capability"]) for path, ops in schema["paths"].items()
            for method, op in ops.items()]


def test_every_operation_declares_a_capability():
    assert len(operations()) >= 10 and all(cap for _, _, cap in operations())


POST_BODIES = {"/api/v1/commands": lambda meter: {"meter_id": meter.pk, "kind": "read_now"},
               "/api/v1/payments": lambda meter: {"account": "NONE", "amount": "1.00", "reference": "r"}}


@pytest.mark.parametrize("method,path,capability", operations(), ids=lambda v: str(v))
def test_every_operation_refuses_a_token_without_its_scope(client, admin, meter, method, path, capability):
    others = sorted(capabilities_of(Role.ADMINISTRATOR) - {capability})
    url = re.sub(r"{\w+_id}", "1", path.replace("{meter_id}", str(meter.pk)).replace("{site_code}", "north"))
    call = getattr(client, method)
    extra = {"data": POST_BODIES[path](meter), "content_type": "application/json"} if method == "post" else {}
    refused = call(url, **extra, **token_for(admin, *others))
    assert refused.status_code == 403, f"{method} {path} let a token without {capability} in"
    allowed = call(url, **extra, **token_for(admin, capability))
    assert allowed.status_code not in (401, 403), f"{method} {path} refused a token with {capability}"


@pytest.mark.parametrize("url", ["/api/v1/seals?meter_id=235622674759973416730624", "/api/v1/sites?after=-1",
                                 f"/api/v1/meters?page={2**62}&page_size=1000",
                                 "/api/v1/meters/99999999999999999999/readings",
                                 "/api/v1/alarms?raised_to=0001-01-01T00:10:00%2B23:46",
                                 "/api/v1/alarms?raised_from=2026-03-01T00:00:00",
                                 "/api/v1/meters/1/readings?cursor=WzIzNTYyMjY3NDc1OTk3MzQxNjczMDYyNCwgImEiLCAiMjAyNi0wMy0wMSJd"])
def test_numbers_beyond_the_database_are_refused_not_crashed(client, admin, url):
    """Found by the fuzzer: a 25-digit id, or a time with no UTC value, reached the query and the database
    refused it (500)."""
    from meterhub.accounts.roles import REPORTS_VIEW
    response = client.get(url, **token_for(admin, ASSETS_VIEW, SEALS_VIEW, REPORTS_VIEW, ALARMS_VIEW))
    assert 400 <= response.status_code < 500, (url, response.status_code)
