"""History queries: readings with filters, paged, and the same rows as CSV or Excel."""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from meterhub.accounts import roles
from meterhub.web import reading_query
from meterhub.web.access import requires

PAGE_SIZE = 100


@requires(roles.REPORTS_VIEW)
def reading_history(request):
    request.section = "reports"
    form = reading_query.ReadingFilterForm(request.GET or {})  # no filters: every site, today
    rows, page, has_next = [], _page_number(request), False
    if form.is_valid():
        # one row more than shown says whether there is a next page, without counting millions
        found = list(reading_query.readings(form.cleaned_data)[(page - 1) * PAGE_SIZE:page * PAGE_SIZE + 1])
        rows = [(r, reading_query.local_time(r)) for r in found[:PAGE_SIZE]]
        has_next = len(found) > PAGE_SIZE
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "web/reading_history.html", {
        "form": form, "rows": rows, "page": page, "has_next": has_next, "query": query.urlencode(),
    })


def _page_number(request) -> int:
    try:
        return max(1, int(request.GET.get("page", 1)))
    except ValueError:
        return 1


def _export_form(request):
    form = reading_query.ReadingFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        return None, HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    return form, None


def _filename(ext: str) -> str:
    return f'attachment; filename="readings-{timezone.localtime():%Y%m%d-%H%M}.{ext}"'


@requires(roles.REPORTS_VIEW)
def reading_history_csv(request):
    form, refused = _export_form(request)
    if refused:
        return refused
    response = StreamingHttpResponse(reading_query.csv_lines(reading_query.readings(form.cleaned_data)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = _filename("csv")
    return response


@requires(roles.REPORTS_VIEW)
def reading_history_xlsx(request):
    form, refused = _export_form(request)
    if refused:
        return refused
    response = HttpResponse(reading_query.xlsx(reading_query.readings(form.cleaned_data)),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = _filename("xlsx")
    return response
