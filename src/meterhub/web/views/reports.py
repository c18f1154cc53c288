"""Reports: on screen (paged), Excel, CSV and print, all from one report definition."""

from __future__ import annotations

import csv
import io

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render

from meterhub.accounts import roles
from meterhub.aggregates.reports import FLAG, MONTH, NUMBER, SHARE, build, plain
from meterhub.web.access import requires
from meterhub.web.exports import report_xlsx
from meterhub.web.report_form import ReportForm

PAGE_SIZE = 50
PRINT_LIMIT = 2000  # rows on a printed page; more belongs in the Excel file


@requires(roles.REPORTS_VIEW)
def reports(request):
    request.section = "reports"
    form = ReportForm(request.GET)
    context = {"form": form, "query": request.GET.copy(), "sites": form.fields["site"].queryset}
    if form.is_bound and form.is_valid():
        report = build(form.cleaned_data["report"], form.criteria())
        printing = request.GET.get("print") == "1"
        page = Paginator(report.rows, PRINT_LIMIT if printing else PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(report=report, page=page, printing=printing,
                       cells=[shown(row, report.columns) for row in page.object_list],
                       export_query=_without(request.GET, "page", "print"))
    return render(request, "web/reports.html", context)


@requires(roles.REPORTS_VIEW)
def report_export(request, fmt: str):
    if fmt not in ("xlsx", "csv"):
        raise Http404(fmt)
    form = ReportForm(request.GET)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
    report = build(form.cleaned_data["report"], form.criteria())
    c = form.cleaned_data
    name = f"{report.key}-{c['site'].code}-{c['start']:%Y%m%d}-{c['end']:%Y%m%d}"
    if fmt == "xlsx":
        response = HttpResponse(report_xlsx(report, language=request.LANGUAGE_CODE),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    else:
        response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def report_csv(report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(c.label) for c in report.columns])
    for row in report.rows:
        writer.writerow(["" if v is None else plain(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode()  # the BOM makes Excel read Chinese text right


def shown(row, columns) -> list[tuple[str, str]]:
    """(css class, text) per cell: numbers right-aligned, shares as percentages, days as ISO dates."""
    out = []
    for column, value in zip(columns, row, strict=True):
        if value is None:
            text = "–"
        elif column.kind == SHARE:
            text = f"{value:.1%}"
        elif column.kind == FLAG:
            text = "✓" if value else "–"
        elif column.kind == MONTH:
            text = value.strftime("%Y-%m")
        elif column.kind == NUMBER:
            text = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
        else:
            text = str(value)
        out.append(("num" if column.kind in (NUMBER, SHARE) else column.kind, text))
    return out


def _without(query, *keys):
    query = query.copy()
    for key in keys:
        query.pop(key, None)
    return query.urlencode()
