"""Sign in with a phone number and an SMS code; sign out."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from meterhub.accounts import context
from meterhub.portal import codes, sessions, signin
from meterhub.portal.access import CUSTOMER, PUBLIC, portal_view
from meterhub.portal.forms import CodeForm, PhoneForm
from meterhub.portal.masking import mask_phone
from meterhub.portal.views.accounts import PENDING_BIND

PENDING_PHONE, NEXT = "portal_sign_in_phone", "portal_next"


def _safe_next(request, target: str) -> str:
    if target.startswith("/portal/") and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return "/portal/"


@portal_view(PUBLIC)
def sign_in(request):
    if request.portal_session is not None:
        return redirect("portal:home")
    form = PhoneForm(request.POST or None, initial={"phone": request.session.get(PENDING_PHONE, "")})
    if request.method == "POST" and form.is_valid():
        try:
            phone = signin.send_code(form.cleaned_data["phone"], ip=context.client_ip(request),
                                     language=request.LANGUAGE_CODE)
        except codes.CodeError as exc:
            form.add_error("phone", str(exc))
        else:
            request.session[PENDING_PHONE] = phone
            request.session[NEXT] = _safe_next(request, request.GET.get("next", ""))
            return redirect("portal:sign-in-code")
    return render(request, "portal/sign_in.html", {"form": form, "waiting": request.session.get(PENDING_PHONE)})


@portal_view(PUBLIC)
def sign_in_code(request):
    phone = request.session.get(PENDING_PHONE)
    if not phone:
        return redirect("portal:sign-in")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = signin.verify(phone, form.cleaned_data["code"])
        except codes.CodeError as exc:
            form.add_error("code", str(exc))
        else:
            target = request.session.pop(NEXT, "/portal/")
            request.session.pop(PENDING_PHONE, None)
            request.session.pop(PENDING_BIND, None)  # left by whoever used this browser before
            response = redirect(_safe_next(request, target))
            sessions.set_cookie(response, request, sessions.start(user, request))
            return response
    return render(request, "portal/sign_in_code.html", {"form": form, "phone": mask_phone(phone),
                                                        "raw_phone": phone})


@require_POST
@portal_view(CUSTOMER)
def sign_out(request):
    sessions.end(request.portal_session)
    request.session.flush()  # a pending binding or phone must not be left for the next person on this phone
    response = redirect("portal:sign-in")
    sessions.clear_cookie(response)
    messages.info(request, _("You are signed out."))
    return response
