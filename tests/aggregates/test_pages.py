"""Dashboard figures and the reports page, its Excel and CSV files, through Django's test client."""

import csv
import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from meterhub.aggregates import dashboard
from meterhub.aggregates.models import MasterMeter
from meterhub.comms.models import BusLink, MeterCommStatus

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def hourly(first, last, per_hour):
    out, ts = [], first
    while ts <= last:
        out.append((ts, per_hour * (ts - first) / timedelta(hours=1)))
        ts += timedelta(hours=1)
    return out


@pytest.fixture
def march(site, building, make_meter, feed):
    """Two flats (2 and 3 kWh/h) and the building's master meter (6 kWh/h), 1-4 March."""
    first, last = datetime(2026, 3, 1, tzinfo=SHANGHAI), datetime(2026, 3, 4, tzinfo=SHANGHAI)
    a, b, master = make_meter("E101"), make_meter("E102"), make_meter("M1", unit="feed")
    MasterMeter.objects.create(meter=master, site=site, building=building)
    for meter, rate in ((a, 2), (b, 3), (master, 6)):
        feed(meter, hourly(first, last, rate))
    return a, b, master


def query(**extra):
    return {"site": "", "start": "2026-03-01", "end": "2026-03-03", "kind": "electricity", **extra}


def test_compare_days_uses_the_hours_known_today():
    assert dashboard.compare_days([1.0, 2.0, None], [2.0, 4.0, 6.0]) == (2, 2.0, 4.0)
    assert dashboard.compare_days([None], [1.0]) == (0, None, None)


def test_dashboard_figures_today_against_yesterday(site, collector, make_meter, feed):
    meter = make_meter("E1")
    now = datetime(2026, 3, 2, 14, 40, tzinfo=SHANGHAI)
    yesterday = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    # 1 kWh an hour yesterday, 2 an hour today, read every hour up to 14:00
    feed(meter, hourly(yesterday, yesterday + timedelta(days=1), 1) +
         [(ts, 24 + v) for ts, v in hourly(yesterday + timedelta(days=1), now, 2)[1:]])
    BusLink.objects.create(collector=collector, port=1, online=True, since=now, last_seen=now)
    MeterCommStatus.objects.create(meter=meter, last_success=now - timedelta(minutes=40), successes=1)
    figures = dashboard.site_figures(site, now=now)
    assert (figures.meters, figures.meters_online, figures.collectors, figures.collectors_online) == (1, 1, 1, 1)
    assert (figures.collection.expected, figures.collection.read, figures.collection.share) == (1, 1, 1.0)
    (usage,) = figures.usage
    assert (usage.kind, usage.unit, usage.today, usage.yesterday) == ("electricity", "kWh", 28.0, 14.0)
    assert usage.until == datetime(2026, 3, 2, 14, tzinfo=SHANGHAI) and usage.change == 1.0
    later = dashboard.site_figures(site, now=now + timedelta(hours=2))
    assert later.meters_online == 0  # not read for more than an hour


def test_open_alarms_per_site(site, collector, make_meter, make_operator):
    from meterhub.alarms import services
    from meterhub.assets.models import Site

    meter, other = make_meter("E1"), make_meter("E2")
    far = Site.objects.create(code="far", name="Far", time_zone="UTC")
    at = datetime(2026, 3, 2, tzinfo=SHANGHAI)
    services.raise_alarm("seal_open", at, meter=meter)
    alarm, _created = services.raise_alarm("seal_open", at, meter=other)
    services.acknowledge(alarm, make_operator("operator"))  # acknowledged is still open
    cleared, _created = services.raise_alarm("foreign_seal", at, meter=meter)
    services.clear(cleared, make_operator("analyst"), "checked on site")
    assert dashboard.site_figures(site).open_alarms == 2
    assert dashboard.site_figures(far).open_alarms == 0


def test_dashboard_page(signed_in, site, collector, make_meter):
    from meterhub.alarms import services

    meter = make_meter("E1")
    client, _ = signed_in("readonly")
    response = client.get(reverse("dashboard"))
    assert response.context["open_alarms"] == 0
    services.raise_alarm("seal_open", datetime(2026, 3, 2, tzinfo=SHANGHAI), meter=meter)
    assert client.get(reverse("dashboard")).context["open_alarms"] == 1
    assert (response.context["read_today"], response.context["expected_today"]) == (0, 1)
    page = response.content.decode()
    assert 'id="open-alarms"' in page and reverse("section-alarms") in page
    assert "North Estate" in page


def test_daily_report_per_meter_on_screen(signed_in, site, march):
    client, _ = signed_in("readonly")
    page = client.get(reverse("reports"), query(site=site.pk, report="daily")).content.decode()
    assert "E101" in page and "48" in page and "72" in page
    assert page.count("<tr>") == 1 + 9  # heading + 3 meters x 3 days


def test_building_totals_and_line_loss(signed_in, site, building, march):
    client, _ = signed_in("readonly")
    response = client.get(reverse("reports"), query(site=site.pk, report="daily", scope="building"))
    rows = list(response.context["report"].rows)
    assert rows[0] == [date(2026, 3, 1), "B1", 120.0, "kWh", 2, 2, 144.0, 24.0]
    loss = client.get(reverse("reports"), query(site=site.pk, report="loss")).context["report"]
    assert loss.rows == [["B1", 432.0, 360.0, 72.0, 1 / 6, "kWh", 3]]


def test_excel_export_holds_the_figures(signed_in, site, march):
    client, _ = signed_in("readonly")
    response = client.get(reverse("report-export", args=["xlsx"]), query(site=site.pk, report="monthly"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="monthly-north-20260301-20260303.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Month", "Meter", "Building", "Quantity", "Consumption")
    figures = {r[1]: r[4] for r in rows[1:]}
    assert figures == {"E101": 144, "E102": 216, "M1": 432}  # 1-4 March: three complete days and the 4th's midnight
    assert sheet.cell(2, 1).number_format == "yyyy-mm"


def test_csv_export_and_chinese_headings(signed_in, site, march):
    client, _ = signed_in("readonly")
    response = client.get(reverse("report-export", args=["csv"]), query(site=site.pk, report="top"),
                          HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][:4] == ["1", "E102", "B1", "216.0"]  # the master meter is not a consumer
    assert [r[1] for r in rows[1:]] == ["E102", "E101"]
    client.cookies.load({"django_language": "zh-hans"})
    page = client.get(reverse("reports"), query(site=site.pk, report="top")).content.decode()
    assert "用量排名" in page
    default = client.get(reverse("reports")).content.decode()  # default dates, formatted by the form
    assert re.search(r'type="date" name="start" value="\d{4}-\d\d-\d\d"', default)  # ISO, as date inputs need


def test_collection_report_and_missing_meters(signed_in, site, march, make_meter):
    make_meter("E9")  # installed, never read
    client, _ = signed_in("readonly")
    # a later reading of any meter recomputes that day's collection figures
    report = client.get(reverse("reports"), query(site=site.pk, report="collection")).context["report"]
    first = list(report.rows)[0]
    assert first[:3] == [date(2026, 3, 1), 3, 3]


def test_bad_criteria_are_refused_with_a_reason(signed_in, site):
    client, _ = signed_in("readonly")
    response = client.get(reverse("reports"), query(site=site.pk, start="2026-03-05", end="2026-03-01"))
    assert "The start date is after the end date" in response.content.decode()
    assert client.get(reverse("report-export", args=["xlsx"]), query(site=site.pk, meter="NOPE")).status_code == 400


def test_master_meters_page_marks_and_removes(signed_in, site, building, march):
    from meterhub.accounts.models import AuditEntry
    from meterhub.aggregates.models import TotalDay

    a, _b, master = march
    client, _ = signed_in("operator")
    response = client.post(reverse("master-meter-list"), {"meter": "E101", "building": building.pk})
    assert response.status_code == 302
    day = TotalDay.objects.get(building=building, day=date(2026, 3, 1))
    assert (day.consumption, day.master) == (72, 144 + 48)  # E102 alone; M1 and E101 both masters
    assert AuditEntry.objects.filter(action="master_meter", object_repr="E101").exists()
    row = MasterMeter.objects.get(meter=a)
    client.post(reverse("master-meter-remove", args=[row.pk]))
    assert TotalDay.objects.get(building=building, day=date(2026, 3, 1)).master == 144
    page = client.get(reverse("master-meter-list")).content.decode()
    assert "M1" in page and "E101" not in page.split('id="master-meters"')[1].split("</table>")[0]
    response = client.post(reverse("master-meter-list"), {"meter": "NOPE"})
    assert "No meter NOPE" in response.content.decode()


def test_master_meter_of_another_sites_building_is_refused(signed_in, building, make_meter):
    from meterhub.assets.models import Site

    far = Site.objects.create(code="far", name="Far", time_zone="UTC")
    make_meter("X1", site=far)
    client, _ = signed_in("operator")
    response = client.post(reverse("master-meter-list"), {"meter": "X1", "building": building.pk})
    assert "different sites" in response.content.decode()
    assert not MasterMeter.objects.exists()
