"""A NUL character in a query parameter or an API JSON body: 400 with the reason; in a path: 404.
Never a server error (PostgreSQL cannot hold one in text, so it used to reach a query and fail there)."""

import json

import pytest

from meterhub.accounts.roles import Role, capabilities_of
from meterhub.alarms.models import Alarm
from tests.api.test_resources import token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_headers(make_operator):
    admin = make_operator(Role.ADMINISTRATOR)
    return token_for(admin, *capabilities_of(Role.ADMINISTRATOR))


@pytest.mark.parametrize("url", ["/api/v1/alarms?state=%00", "/api/v1/seals?state=open%00",
                                 "/api/v1/meters?site=a%00b", "/api/v1/alarms?%00=1"])
def test_an_api_request_with_a_nul_is_refused_with_its_reason(client, api_headers, site, url):
    response = client.get(url, **api_headers)
    assert response.status_code == 400
    assert "NUL characters are not allowed" in response.json()["detail"]


@pytest.mark.parametrize("url", ["/api/v1/sites/%00", "/api/v1/sites/north%00/readings", "/meters/%00/"])
def test_a_path_with_a_nul_names_nothing(client, api_headers, site, url):
    response = client.get(url, **api_headers)
    assert response.status_code == 404
    if url.startswith("/api/"):
        assert response.json() == {"detail": "Not Found"}


def test_a_json_body_with_a_nul_is_refused_and_one_without_goes_on(client, api_headers, site):
    body = {"account": "X1", "amount": "5.00", "reference": "R1", "note": "cash\u0000"}
    response = client.post("/api/v1/payments", json.dumps(body), content_type="application/json", **api_headers)
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    body["note"] = "cash"
    response = client.post("/api/v1/payments", json.dumps(body), content_type="application/json", **api_headers)
    assert response.status_code != 400 or "NUL" not in response.content.decode()


def test_a_console_page_with_a_nul_in_its_query_is_refused_and_without_answers(signed_in):
    client, _user = signed_in("administrator")
    response = client.get("/meters/?q=E1%00")
    assert response.status_code == 400 and b"NUL characters are not allowed" in response.content
    assert client.get("/meters/?q=E1").status_code == 200
    assert client.get("/api/v1/alarms?state=open").status_code == 200 and not Alarm.objects.exists()
