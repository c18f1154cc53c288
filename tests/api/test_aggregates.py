"""Daily and monthly consumption through the API: per meter, every meter of a site (cursor-paged),
site and building totals with completeness and the estimated share; ranges checked."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meterhub.accounts.roles import REPORTS_VIEW, Role
from tests.aggregates.conftest import building, feed, make_meter  # noqa: F401 - fixtures
from tests.api.test_resources import token_for

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def every_6h(per_hour, days=2):
    start = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    return [(start + timedelta(hours=6 * n), per_hour * 6 * n) for n in range(4 * days + 1)]


@pytest.fixture
def estate(make_meter, feed):  # noqa: F811 - the fixture imported above
    """E1 uses 1 kWh an hour, E2 2 kWh with one estimated read on 1 March, both in building B1."""
    e1, e2 = make_meter("E1"), make_meter("E2")
    feed(e1, every_6h(1))
    reads = every_6h(2)
    feed(e2, [r for i, r in enumerate(reads) if i != 2])
    feed(e2, [reads[2]], quality="estimated")
    return e1, e2


@pytest.fixture
def auth(make_operator):
    return token_for(make_operator(Role.READONLY), REPORTS_VIEW)


def get(client, auth, url, status=200):
    response = client.get(url, **auth)
    assert response.status_code == status, response.content
    return response.json()


def test_a_meters_days_carry_consumption_completeness_and_the_estimated_share(client, auth, estate):
    e1, e2 = estate
    days = get(client, auth, f"/api/v1/meters/{e1.pk}/consumption/daily?start=2026-03-01&end=2026-03-02"
                             "&quantity=energy_import")["items"]
    assert [(d["day"], d["consumption"], d["complete"], d["estimated_share"]) for d in days] == [
        ("2026-03-01", "24.000000", True, 0.0), ("2026-03-02", "24.000000", True, 0.0)]
    other = get(client, auth, f"/api/v1/meters/{e2.pk}/consumption/daily?start=2026-03-01&end=2026-03-01")
    [day] = other["items"]
    assert day["consumption"] == "48.000000" and day["estimated_share"] == 0.2 and day["reads"] == 4


def test_a_meters_months_sum_its_days(client, auth, estate):
    months = get(client, auth, f"/api/v1/meters/{estate[0].pk}/consumption/monthly?start=2026-03&end=2026-03")
    [march] = [m for m in months["items"] if m["quantity"] == "energy_import"]
    assert (march["month"], march["consumption"], march["complete"]) == ("2026-03", "48.000000", False)
    assert march["complete_days"] == 2


def test_every_meter_of_a_site_is_paged_once_in_key_order(client, auth, estate):
    url = "/api/v1/sites/north/meters/consumption/daily?start=2026-03-01&end=2026-03-02&building=B1&limit=1"
    seen, cursor = [], None
    while True:
        page = get(client, auth, url + (f"&cursor={cursor}" if cursor else ""))
        seen += [(d["meter_id"], d["quantity"], d["day"]) for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 4
    monthly = get(client, auth, "/api/v1/sites/north/meters/consumption/monthly?start=2026-01&end=2026-03&kind=water")
    assert monthly == {"items": [], "next_cursor": None}


def test_site_and_building_totals_say_how_complete_and_how_estimated(client, auth, estate):
    site_days = get(client, auth, "/api/v1/sites/north/consumption/daily?start=2026-03-01&end=2026-03-01")["items"]
    [day] = site_days
    assert (day["period"], day["kind"], day["building"], day["consumption"]) == (
        "2026-03-01", "electricity", None, "72.000000")
    assert (day["meters"], day["complete_meters"], day["completeness"]) == (2, 2, 1.0)
    assert 0 < day["estimated_share"] < 1 and day["master"] is None and day["loss"] is None
    [in_b1] = get(client, auth, "/api/v1/sites/north/consumption/daily?start=2026-03-01&end=2026-03-01"
                                "&building=B1")["items"]
    assert in_b1["building"] == "B1" and in_b1["consumption"] == "72.000000"
    [month] = get(client, auth, "/api/v1/sites/north/consumption/monthly?start=2026-03&end=2026-03"
                                "&kind=electricity")["items"]
    assert (month["period"], month["consumption"], month["completeness"]) == ("2026-03", "144.000000", 0.0)


@pytest.mark.parametrize("url, status, reason", [
    ("/api/v1/sites/north/consumption/daily?start=2026-03-02&end=2026-03-01", 400, "end on or after"),
    ("/api/v1/sites/north/consumption/daily?start=2025-01-01&end=2026-03-01", 400, "at most 400 days"),
    ("/api/v1/sites/north/consumption/monthly?start=2016-01&end=2026-03", 400, "at most 120 months"),
    ("/api/v1/sites/north/consumption/monthly?start=2026-13&end=2026-13", 400, "YYYY-MM"),
    ("/api/v1/sites/north/consumption/monthly?start=March&end=2026-03", 422, ""),
    ("/api/v1/sites/north/consumption/daily?start=2026-03-01", 422, "end"),
    ("/api/v1/sites/north/consumption/daily?start=2026-03-01&end=2026-03-01&building=B9", 404, "no building B9"),
    ("/api/v1/sites/nowhere/consumption/daily?start=2026-03-01&end=2026-03-01", 404, ""),
    ("/api/v1/meters/999999/consumption/daily?start=2026-03-01&end=2026-03-01", 404, ""),
    ("/api/v1/sites/north/meters/consumption/daily?start=2026-03-01&end=2026-03-01&cursor=abc", 400, "cursor"),
    ("/api/v1/sites/north/meters/consumption/daily?start=2026-03-01&end=2026-03-01&limit=0", 400, "limit"),
])
def test_bad_ranges_and_unknown_places_are_refused_with_the_reason(client, auth, site, url, status, reason):
    response = client.get(url, **auth)
    assert response.status_code == status, response.content
    assert reason in response.content.decode()
