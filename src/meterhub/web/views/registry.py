"""List, detail, create and edit pages for registry records, from one description each.

A `Registry` says what a record type shows and who may change it; the four views
below serve every type, so collectors, meters and customers behave alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from meterhub.accounts import roles
from meterhub.assets import registry as domain
from meterhub.assets.models import Building, Collector, Customer, Meter, Premise, Site
from meterhub.comms import field_state
from meterhub.notifications import contacts
from meterhub.seals import custody
from meterhub.web import forms
from meterhub.web.access import requires
from meterhub.web.views import meter_data

PAGE_SIZE = 50


@dataclass
class Registry:
    key: str  # URL and template prefix: "meter" -> meter-list, web/meter_detail.html
    model: type
    form: type
    section: str
    title: str
    title_plural: str
    columns: list[tuple[str, str]]  # (attribute path, heading)
    search: list[str] = field(default_factory=list)  # lookups for the search box
    filters: list[str] = field(default_factory=list)  # fields with choices or FKs
    related: list[str] = field(default_factory=list)
    view_capability: str = roles.ASSETS_VIEW
    change_capability: str = roles.ASSETS_CHANGE
    annotate: dict = field(default_factory=dict)  # computed list columns

    def queryset(self):
        rows = self.model.objects.select_related(*self.related).annotate(**self.annotate)
        return rows.order_by(*self.model._meta.ordering, "pk")  # aggregates drop Meta.ordering


REGISTRIES = [
    Registry("collector", Collector, forms.CollectorForm, "collectors", _("Collector"), _("Collectors"),
             [("code", _("Collector id")), ("name", _("Name")), ("site", _("Site")),
              ("get_transport_display", _("Transport")), ("registration_id", _("Registration id")),
              ("online_buses", _("Buses online")), ("enabled", _("Enabled"))],
             search=["code", "name", "registration_id"], filters=["site", "transport"], related=["site"],
             annotate={"online_buses": Count("bus_links", filter=Q(bus_links__online=True))}),
    Registry("meter", Meter, forms.MeterForm, "meters", _("Meter"), _("Meters"),
             [("serial", _("Meter number")), ("get_kind_display", _("Kind")),
              ("get_protocol_display", _("Protocol")), ("address", _("Address")), ("collector", _("Collector")),
              ("bus_port", _("Port")), ("multiplier_display", _("Multiplier")),
              ("get_payment_mode_display", _("Payment"))],
             search=["serial", "address", "model"], filters=["site", "kind", "protocol", "payment_mode"],
             related=["site", "collector"]),
    Registry("customer", Customer, forms.CustomerForm, "customers", _("Customer"), _("Customers"),
             [("account_no", _("Account")), ("name", _("Name")), ("get_customer_class_display", _("Class")),
              ("phone", _("Phone")), ("active", _("Active"))],
             search=["account_no", "name", "phone"], filters=["customer_class"]),
    Registry("premise", Premise, forms.PremiseForm, "customers", _("Premise"), _("Premises"),
             [("site", _("Site")), ("building", _("Building")), ("unit", _("Unit / room")),
              ("get_kind_display", _("Kind"))],
             search=["unit", "building__code", "address"], filters=["site", "kind"], related=["site", "building"]),
    Registry("building", Building, forms.BuildingForm, "settings", _("Building"), _("Buildings"),
             [("site", _("Site")), ("code", _("Building")), ("name", _("Name"))],
             search=["code", "name"], filters=["site"], related=["site"]),
    Registry("site", Site, forms.SiteForm, "settings", _("Site"), _("Sites"),
             [("code", _("Code")), ("name", _("Name")), ("time_zone", _("Time zone")), ("currency", _("Currency"))],
             search=["code", "name"], change_capability=roles.OPERATORS_MANAGE),
]
BY_KEY = {r.key: r for r in REGISTRIES}


def _value(obj, attr_path: str):
    value = obj
    for part in attr_path.split("."):
        value = getattr(value, part, None)
        if callable(value):
            value = value()
    return value


def list_view(request, registry: Registry):
    request.section = registry.section
    rows = registry.queryset()
    q = request.GET.get("q", "").strip()
    if q and registry.search:
        condition = Q()
        for lookup in registry.search:
            condition |= Q(**{f"{lookup}__icontains": q})
        rows = rows.filter(condition)
    active_filters = []
    for name in registry.filters:
        value = request.GET.get(name, "")
        model_field = registry.model._meta.get_field(name)
        options = (
            [(str(o.pk), str(o)) for o in model_field.related_model.objects.all()[:500]]
            if model_field.is_relation else [(str(k), str(v)) for k, v in model_field.choices]
        )
        if value:
            rows = rows.filter(**{name: value})
        active_filters.append({"name": name, "label": model_field.verbose_name, "options": options,
                               "value": value})
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    table = [(obj, [_value(obj, attr) for attr, _h in registry.columns]) for obj in page]
    return render(request, "web/registry_list.html", {
        "registry": registry, "page": page, "table": table, "q": q, "filters": active_filters,
        "query": request.GET.copy(),
    })


def detail_view(request, registry: Registry, pk: int):
    request.section = registry.section
    obj = get_object_or_404(registry.queryset(), pk=pk)
    fields = [(f.verbose_name, _display(obj, f)) for f in registry.model._meta.fields
              if f.name not in ("id", "password", "operator_code", "id_number", "created_at")]
    context = {"registry": registry, "obj": obj, "fields": fields}
    context.update(_extra_detail(registry.key, obj))
    return render(request, [f"web/{registry.key}_detail.html", "web/registry_detail.html"], context)


def _display(obj, model_field):
    if model_field.choices:
        return getattr(obj, f"get_{model_field.name}_display")()
    return getattr(obj, model_field.name)


def _extra_detail(key, obj) -> dict:
    """The history and related records each detail page shows."""
    if key == "meter":
        return {"installations": obj.installations.select_related("premise__building"),
                "install_form": forms.InstallForm(), "exchange_form": forms.ExchangeForm(),
                "remove_form": forms.WhenForm(), "has_secrets": bool(obj.password or obj.operator_code),
                "seal_rows": [{"meter": obj, **custody.seal_status(obj)}],
                **field_state.meter_state(obj), **meter_data.page_context(obj)}
    if key == "customer":
        return {"tenancies": obj.tenancies.select_related("premise__building"),
                "seal_rows": custody.customer_seal_status(obj), "show_meter": True,
                "contact": contacts.preference_of(obj)}
    if key == "premise":
        return {"tenancies": obj.tenancies.select_related("customer"),
                "installations": obj.installations.select_related("meter"),
                "move_in_form": forms.MoveInForm(), "move_out_form": forms.WhenForm()}
    if key == "collector":
        return {"meters": obj.meters.all()[:500], **field_state.collector_state(obj)}
    return {}


def edit_view(request, registry: Registry, pk: int | None = None):
    request.section = registry.section
    obj = get_object_or_404(registry.model, pk=pk) if pk else registry.model()
    before = domain.snapshot(obj)
    form = registry.form(request.POST or None, instance=obj)
    if request.method == "POST" and form.is_valid():
        try:
            saved = domain.save(form.save(commit=False), before=before, actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Saved %(obj)s") % {"obj": saved})
            return redirect(f"{registry.key}-detail", pk=saved.pk)
    return render(request, "web/registry_form.html", {"registry": registry, "form": form, "obj": obj})


def urlpatterns_for(registry: Registry) -> list:
    k = registry.key
    view, change = registry.view_capability, registry.change_capability
    return [
        path(f"{k}s/", requires(view)(lambda r: list_view(r, registry)), name=f"{k}-list"),
        path(f"{k}s/new/", requires(change)(lambda r: edit_view(r, registry)), name=f"{k}-new"),
        path(f"{k}s/<int:pk>/", requires(view)(lambda r, pk: detail_view(r, registry, pk)), name=f"{k}-detail"),
        path(f"{k}s/<int:pk>/edit/", requires(change)(lambda r, pk: edit_view(r, registry, pk)),
             name=f"{k}-edit"),
    ]
