"""The upload page for bulk onboarding (same importer as `meterhub import`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from meterhub.accounts import roles
from meterhub.assets.importing import IMPORTERS, import_file
from meterhub.web import forms
from meterhub.web.access import requires
from meterhub.web.exports import import_template_xlsx

MAX_ERRORS_SHOWN = 500


@requires(roles.ASSETS_IMPORT)
def import_page(request):
    request.section = "settings"
    form = forms.ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        report = import_file(form.cleaned_data["kind"], upload.read(), upload.name,
                             dry_run=form.cleaned_data["dry_run"], actor=request.user)
        if report.ok and not report.dry_run:
            messages.success(request, _("Imported %(n)s %(kind)s") % {"n": report.created, "kind": report.kind})
    columns = {kind: cls.columns for kind, cls in IMPORTERS.items()}
    return render(request, "web/import.html", {
        "form": form, "report": report, "columns": columns,
        "errors": report.errors[:MAX_ERRORS_SHOWN] if report else [],
    })


@requires(roles.ASSETS_IMPORT)
def import_template(request, kind):
    if kind not in IMPORTERS:
        raise Http404(kind)
    importer = IMPORTERS[kind]
    response = HttpResponse(import_template_xlsx(importer.columns, importer.example),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="meterhub-{kind}-template.xlsx"'
    return response
