"""The Seals section: stock and custody, labels, the phone check, inspections, investigations.

Thin: read the request, call meterhub.seals, render. Refusals from the domain come back
as messages on the page they were made from.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from meterhub.accounts import roles
from meterhub.accounts.models import User
from meterhub.alarms.models import Alarm
from meterhub.seals import custody, evidence, inspections, investigations, keys, labels, seal_code
from meterhub.seals.custody import Where
from meterhub.seals.models import (
    Case,
    Photo,
    Position,
    Seal,
    SealBatch,
    SealState,
    VerificationResult,
)
from meterhub.web import seal_forms
from meterhub.web.access import can, requires


def _section(request):
    request.section = "seals"


def _errors(request, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


# --- stock ---------------------------------------------------------------------------------

@requires(roles.SEALS_VIEW)
def overview(request):
    _section(request)
    seals = Seal.objects.select_related("holder", "meter", "collector")
    q, state = request.GET.get("q", "").strip(), request.GET.get("state", "")
    if q:
        seals = seals.filter(Q(serial__icontains=q) | Q(meter__serial__icontains=q))
    if state:
        seals = seals.filter(state=state)
    counts = dict(Seal.objects.values_list("state").annotate(n=Count("id")))
    context = {
        "counts": [(s, s.label, counts.get(s.value, 0)) for s in SealState],
        "stock": custody.stock_by_technician(),
        "batches": SealBatch.objects.annotate(n=Count("seals"))[:20],
        "page": Paginator(seals, 50).get_page(request.GET.get("page")), "query": request.GET,
        "q": q, "state": state, "states": SealState.choices,
        "open_cases": Case.objects.exclude(status=Case.Status.CLOSED).count(),
        "checks": VerificationResult.objects.select_related("checked_by")[:10],
        "batch_form": seal_forms.BatchForm(), "can_change": can(request.user, roles.SEALS_CHANGE),
    }
    return render(request, "seals/overview.html", context)


@require_POST
@requires(roles.SEALS_CHANGE)
def batch_new(request):
    form = seal_forms.BatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("section-seals")
    d = form.cleaned_data
    try:
        batch = custody.receive_batch(d["reference"], d["seal_type"], d["first"], d["last"], Where(request.user),
                                      prefix=d["prefix"], digits=d["digits"], supplier=d["supplier"])
    except (ValidationError, IntegrityError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, _("Received %(n)s seals in batch %(b)s.") % {"n": batch.last - batch.first + 1,
                                                                               "b": batch.reference})
    return redirect("section-seals")


@requires(roles.SEALS_VIEW)
def seal_detail(request, pk):
    _section(request)
    seal = get_object_or_404(Seal.objects.select_related("holder", "meter", "collector", "batch"), pk=pk)
    verdict = seal_code.verify(seal.code, keys.current_list(), seal.meter.serial if seal.meter else "") \
        if seal.code else None
    return render(request, "seals/seal_detail.html", {
        "seal": seal, "events": custody.history(seal), "verdict": verdict,
        "form": seal_forms.ActionForm(), "can_change": can(request.user, roles.SEALS_CHANGE)})


@require_POST
@requires(roles.SEALS_CHANGE)
def seal_action(request, pk):
    seal = get_object_or_404(Seal, pk=pk)
    form = seal_forms.ActionForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("seal-detail", pk=pk)
    d = form.cleaned_data
    try:
        with transaction.atomic():
            where = Where(request.user, location=d["location"], notes=d["notes"],
                          photo=evidence.save_photo(d["photo"], request.user))
            _act(seal, d, where)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("Seal %(s)s: done.") % {"s": seal.serial})
    return redirect("seal-detail", pk=pk)


def _act(seal: Seal, d: dict, where: Where) -> None:
    action = d["action"]
    if action == "issue":
        if d["technician"] is None:
            raise ValidationError(_("Choose the technician the seal is issued to."))
        custody.issue([seal.serial], d["technician"], where)
    elif action == "install":
        if d["meter"] is None or not d["position"]:
            raise ValidationError(_("Give the meter number and the position."))
        custody.install(seal.serial, where, meter=d["meter"], position=d["position"], job=d["job"])
    elif action == "remove":
        custody.remove(seal.serial, d["reason"], where, job=d["job"])
    elif action == "lose":
        custody.report_lost(seal.serial, d["reason"], where)
    elif action == "void":
        custody.void(seal.serial, d["reason"], where)
    else:
        {"hand_back": custody.hand_back, "return": custody.return_to_store, "destroy": custody.destroy}[action](
            seal.serial, where)


@requires(roles.SEALS_VIEW)
def technician_stock(request, pk):
    _section(request)
    technician = get_object_or_404(User, pk=pk)
    counted = request.GET.get("counted")
    result = custody.reconcile(technician, counted.split() if counted is not None else None)
    return render(request, "seals/technician.html", {"technician": technician, "r": result,
                                                     "counted": counted or ""})


@requires(roles.SEALS_VIEW)
def photo(request, pk):
    item = get_object_or_404(Photo, pk=pk)
    response = HttpResponse(bytes(item.data), content_type=item.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- labels and keys ------------------------------------------------------------------------

@requires(roles.SEALS_VIEW)
def labels_pdf(request):
    seals = Seal.objects.filter(state=SealState.INSTALLED).exclude(code="").order_by("serial")
    if request.GET.get("meter"):
        seals = seals.filter(meter__serial=request.GET["meter"])
    if request.GET.get("serials"):
        seals = seals.filter(serial__in=request.GET["serials"].replace(",", " ").split())
    layout = request.GET.get("layout", "sheet")
    if layout not in labels.LAYOUTS:
        layout = "sheet"
    response = HttpResponse(labels.render(labels.labels_for(seals[:2000]), layout), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="seal-labels-{timezone.now():%Y%m%d-%H%M}.pdf"'
    return response


@requires(roles.SEALS_VIEW)
def key_list(request):
    response = JsonResponse(keys.publish())
    response["Cache-Control"] = "no-store"
    return response


# --- the phone check ----------------------------------------------------------------------

VERDICT_MESSAGES = {
    "valid": gettext_lazy("Valid: a genuine seal of this meter."),
    "other_meter": gettext_lazy("Genuine code, but it belongs to another meter."),
    "not_genuine": gettext_lazy("Not a genuine seal code."),
    "withdrawn": gettext_lazy("This seal is recorded as removed or lost."),
    "stale_list": gettext_lazy("Key list too old to be sure: open this page with signal."),
}


@requires(roles.SEALS_VIEW)
def verify_page(request):
    messages_for_page = {k: str(v) for k, v in VERDICT_MESSAGES.items()}
    messages_for_page.update({"no_list": str(VERDICT_MESSAGES["stale_list"]),
                              "no_qr": _("No QR code found in the photo."),
                              "positions": {p.value: str(p.label) for p in Position}})
    return render(request, "seals/verify.html", {"list_key": keys.list_public_key(),
                                                 "verdict_messages": messages_for_page})


def _shell() -> list[str]:
    return [reverse("seal-verify"), reverse("seal-verify-manifest"), static("web/console.css"),
            static("seals/verify.js"), static("seals/vendor/jsQR.js"), static("seals/icon.svg")]


def _shell_version() -> str:
    """Changes when the page, its script or the pinned list key change, so phones pick up
    the new page (the service worker serves the cached one first)."""
    digest = hashlib.sha256((Path(__file__).resolve().parents[2] / "seals/static/seals/verify.js").read_bytes())
    from meterhub.seals import apps

    digest.update(Path(apps.__file__).with_name("templates").joinpath("seals/verify.html").read_bytes())
    digest.update(keys.list_public_key().encode())
    return digest.hexdigest()[:12]


@requires(roles.SEALS_VIEW)
def verify_sw(request):
    response = render(request, "seals/sw.js", {"version": _shell_version(), "shell": json.dumps(_shell()),
                                               "keys_url": json.dumps(reverse("seal-keys"))},
                      content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response


@requires(roles.SEALS_VIEW)
def verify_manifest(request):
    return JsonResponse({
        "name": _("meterhub seal check"), "short_name": _("Seal check"), "start_url": reverse("seal-verify"),
        "scope": reverse("seal-verify"), "display": "standalone", "background_color": "#f4f6f8",
        "theme_color": "#0b6e4f",
        "icons": [{"src": static("seals/icon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }, content_type="application/manifest+json")


@require_POST
@requires(roles.SEALS_VIEW)
def verify_results(request):
    """Checks queued on a phone, uploaded when it had signal again. Each has the phone's
    own id: an upload repeated (the answer lost on the way) is stored once."""
    try:
        items = json.loads(request.body)["results"]
        rows = [_result_row(item, request.user) for item in items]
    except (ValueError, KeyError, TypeError) as exc:
        return JsonResponse({"error": f"bad upload: {exc}"}, status=400)
    VerificationResult.objects.bulk_create(rows, ignore_conflicts=True)
    return JsonResponse({"stored": len(rows)})


def _result_row(item: dict, user) -> VerificationResult:
    verdict = str(item["verdict"])
    if verdict not in seal_code.VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    checked_at = datetime.fromisoformat(str(item["checked_at"]).replace("Z", "+00:00"))
    if timezone.is_naive(checked_at):
        raise ValueError("checked_at needs a time zone")
    return VerificationResult(client_id=str(item["client_id"])[:64], checked_at=checked_at, checked_by=user,
                              code=str(item["code"])[:400], meter_entered=str(item.get("meter", ""))[:40],
                              verdict=verdict, seal_serial=str(item.get("seal", ""))[:24])


# --- inspections and investigations ---------------------------------------------------------

@requires(roles.SEALS_CHANGE)
def inspection_new(request):
    _section(request)
    form = seal_forms.InspectionForm(request.POST or None, initial={"meter": request.GET.get("meter", "")})
    findings = seal_forms.FindingFormSet(request.POST or None, request.FILES or None, prefix="f")
    if request.method == "POST" and form.is_valid() and findings.is_valid():
        try:
            with transaction.atomic():
                found = [inspections.Found(f["position"], f["condition"], f.get("seal_serial", "").strip(),
                                           f.get("code", "").strip(),
                                           evidence.save_photo(f.get("photo"), request.user))
                         for f in findings.cleaned_data if f]
                inspection, case = inspections.record(form.cleaned_data["meter"], request.user, found,
                                                      notes=form.cleaned_data["notes"])
        except ValidationError as exc:
            _errors(request, exc)
        else:
            if case is not None:
                messages.warning(request, _("Findings do not match the records: case #%(n)s opened.") % {"n": case.pk})
                return redirect("seal-case", pk=case.pk)
            messages.success(request, _("Inspection recorded: every seal intact."))
            return redirect("meter-detail", pk=inspection.meter_id)
    return render(request, "seals/inspection_form.html", {"form": form, "findings": findings})


@requires(roles.SEALS_VIEW)
def case_list(request):
    _section(request)
    status = request.GET.get("status", "")
    cases = Case.objects.select_related("meter", "assignee")
    if status:
        cases = cases.filter(status=status)
    return render(request, "seals/case_list.html", {"cases": cases[:200], "status": status,
                                                    "statuses": Case.Status.choices})


@requires(roles.SEALS_VIEW)
def case_detail(request, pk):
    _section(request)
    case = get_object_or_404(Case.objects.select_related("meter", "assignee", "alarm", "inspection"), pk=pk)
    estimate = None
    if case.status != Case.Status.CLOSED:
        since = case.alarm.raised_at if case.alarm else case.opened_at
        estimate = investigations.estimate_unbilled(case.meter, since)
    return render(request, "seals/case_detail.html", {
        "case": case, "entries": case.entries.select_related("author"), "estimate": estimate,
        "update_form": seal_forms.CaseUpdateForm(), "close_form": seal_forms.CaseCloseForm(
            initial={"unbilled_kwh": estimate["unbilled"] if estimate and estimate["ok"] else None}),
        "findings": case.inspection.findings.all() if case.inspection else [],
        "can_change": can(request.user, roles.SEALS_CHANGE)})


@require_POST
@requires(roles.SEALS_CHANGE)
def case_update(request, pk):
    case = get_object_or_404(Case, pk=pk)
    form = seal_forms.CaseUpdateForm(request.POST, request.FILES)
    if form.is_valid():
        d = form.cleaned_data
        try:
            with transaction.atomic():
                if d["assignee"] is not None and d["assignee"] != case.assignee:
                    investigations.assign(case, d["assignee"], request.user)
                if d["note"].strip() or d["photo"]:
                    investigations.add_note(case, request.user, d["note"],
                                            evidence.save_photo(d["photo"], request.user))
        except ValidationError as exc:
            _errors(request, exc)
    return redirect("seal-case", pk=pk)


@require_POST
@requires(roles.SEALS_CHANGE)
def case_close(request, pk):
    case = get_object_or_404(Case, pk=pk)
    form = seal_forms.CaseCloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("seal-case", pk=pk)
    d = form.cleaned_data
    try:
        investigations.close(case, request.user, d["outcome"], unbilled_kwh=d["unbilled_kwh"], note=d["note"])
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("Case #%(n)s closed.") % {"n": case.pk})
    return redirect("seal-case", pk=pk)


@require_POST
@requires(roles.SEALS_CHANGE)
def case_from_alarm(request, pk):
    alarm = get_object_or_404(Alarm, pk=pk)
    try:
        case = investigations.open_from_alarm(alarm, request.user)
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("section-alarms")
    return redirect("seal-case", pk=case.pk)
