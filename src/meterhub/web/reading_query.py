"""History queries over the readings store: the filters people use, as one form and one query.

The page, its CSV and Excel exports all run `ReadingQuery.readings()`, so what is exported
is what was shown. Dates are the site's local days. A query without a meter is limited to
MAX_DAYS_FLEET days so a careless click cannot sort a year of a whole site; with a meter a
year is fine (the primary key leads with the meter).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from openpyxl import Workbook

from meterhub.assets.models import Building, Meter, MeterInstallation, Site
from meterhub.readings.models import Quality, Reading, Source
from meterhub.readings.quantities import LABELS, TARIFFS, label
from meterhub.web.exports import _bold
from meterhub.web.ranges import parse_range

MAX_DAYS_FLEET = 31
MAX_DAYS_METER = 366
EXCEL_ROW_LIMIT = 200_000  # past this a spreadsheet is no help; CSV has no limit
COLUMNS = [_lazy("Meter number"), _lazy("Site"), _lazy("Quantity"), _lazy("Code"), _lazy("Time"), _lazy("Value"),
           _lazy("Unit"), _lazy("Register value"), _lazy("Multiplier"), _lazy("Quality"), _lazy("Source")]


QUANTITY_CHOICES = [(q, label(q)) for q in sorted(
    [*LABELS, *(f"{base}_t{t}" for base in ("energy_import", "energy_export") for t in TARIFFS)])]


def _choices(choices):
    return [("", _lazy("Any"))] + list(choices)


class ReadingFilterForm(forms.Form):
    site = forms.ModelChoiceField(Site.objects.all(), required=False, to_field_name="code", label=_lazy("Site"),
                                  empty_label=_lazy("Any"))
    building = forms.ModelChoiceField(Building.objects.select_related("site"), required=False,
                                      label=_lazy("Building"), empty_label=_lazy("Any"))
    meter = forms.CharField(required=False, label=_lazy("Meter number or id"))
    quantity = forms.ChoiceField(choices=_choices(QUANTITY_CHOICES), required=False, label=_lazy("Quantity"))
    quality = forms.ChoiceField(choices=_choices(Quality.choices), required=False, label=_lazy("Quality"))
    source = forms.ChoiceField(choices=_choices(Source.choices), required=False, label=_lazy("Source"))
    start = forms.CharField(required=False, label=_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.CharField(required=False, label=_lazy("Until"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean_meter(self):
        text = self.cleaned_data["meter"].strip()
        if not text:
            return None
        match = Q(serial=text) | Q(pk=int(text)) if text.isdigit() else Q(serial=text)
        meter = Meter.objects.select_related("site").filter(match).first()
        if meter is None:
            raise forms.ValidationError(_("No meter %(m)s") % {"m": text})
        return meter

    def zone(self) -> ZoneInfo:
        """Dates are read in the site's time zone: the meter's, the building's, the chosen site's."""
        data = self.cleaned_data
        site = ((data.get("meter") and data["meter"].site) or (data.get("building") and data["building"].site)
                or data.get("site"))
        if site is None:
            site = Site.objects.order_by("pk").first()
        return ZoneInfo(site.time_zone if site else settings.TIME_ZONE)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["range"] = parse_range(data.get("start", ""), data.get("end", ""), self.zone(), default_days=1)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        limit = MAX_DAYS_METER if data.get("meter") else MAX_DAYS_FLEET
        start, end = data["range"]
        if end - start > timedelta(days=limit):
            raise forms.ValidationError(_("Choose at most %(n)d days (a meter: %(m)d days).")
                                        % {"n": MAX_DAYS_FLEET, "m": MAX_DAYS_METER})
        return data


def readings(data: dict):
    """The readings matching a valid form's cleaned data, newest first."""
    start, end = data["range"]
    rows = Reading.objects.filter(ts__gte=start, ts__lt=end)
    if data.get("meter"):
        rows = rows.filter(meter=data["meter"])
    if data.get("site"):
        rows = rows.filter(meter__site=data["site"])
    if data.get("building"):
        # meters installed in the building at any time during the range
        installed = MeterInstallation.objects.filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=start), premise__building=data["building"], valid_from__lt=end)
        rows = rows.filter(meter_id__in=installed.values("meter_id"))
    for name in ("quantity", "quality", "source"):
        if data.get(name):
            rows = rows.filter(**{name: data[name]})
    return rows.select_related("meter__site").order_by("-ts", "meter_id", "quantity")


def local_time(reading: Reading) -> datetime:
    return reading.ts.astimezone(ZoneInfo(reading.meter.site.time_zone))


def row(reading: Reading) -> list:
    return [reading.meter.serial, reading.meter.site.code, str(label(reading.quantity)), reading.quantity,
            local_time(reading), reading.value, reading.unit, reading.raw_value, reading.multiplier,
            reading.get_quality_display(), reading.get_source_display()]


def csv_lines(rows):
    """CSV text line by line (streamed: a month of a site is millions of rows)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(c) for c in COLUMNS])
    yield out.getvalue()
    for reading in rows.iterator(chunk_size=5000):
        out.seek(0)
        out.truncate()
        values = row(reading)
        values[4] = values[4].isoformat()  # with the site's UTC offset: unambiguous
        writer.writerow(values)
        yield out.getvalue()


def xlsx(rows) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Readings"))
    for letter, width in zip("ABCDEFGHIJK", [16, 10, 28, 16, 20, 14, 6, 14, 10, 10, 14], strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_bold(sheet, str(c)) for c in COLUMNS])
    for reading in rows[:EXCEL_ROW_LIMIT].iterator(chunk_size=5000):
        values = row(reading)
        values[4] = values[4].replace(tzinfo=None)  # Excel has no time zones: the site's wall clock
        values[5], values[7], values[8] = float(values[5]), float(values[7]), float(values[8])
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
