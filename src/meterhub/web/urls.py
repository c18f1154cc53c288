from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from meterhub.web import forms
from meterhub.web.views import (
    audit,
    commands,
    console,
    history,
    imports,
    meter_data,
    operators,
    readings,
)
from meterhub.web.views.registry import REGISTRIES, urlpatterns_for

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html", authentication_form=forms.LoginForm,
                                                redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", console.dashboard, name="dashboard"),
    path("billing/", console.section_page("billing"), name="section-billing"),
    path("seals/", console.section_page("seals"), name="section-seals"),
    path("alarms/", console.section_page("alarms"), name="section-alarms"),
    path("reports/", console.reports, name="reports"),
    path("reports/meter-register.xlsx", console.meter_register_export, name="report-meter-register"),
    path("readings/", readings.reading_history, name="reading-history"),
    path("readings/readings.csv", readings.reading_history_csv, name="reading-history-csv"),
    path("readings/readings.xlsx", readings.reading_history_xlsx, name="reading-history-xlsx"),
    path("settings/", console.settings_index, name="settings"),
    path("settings/import/", imports.import_page, name="import"),
    path("settings/import/<str:kind>-template.xlsx", imports.import_template, name="import-template"),
    path("settings/operators/", operators.operator_list, name="operator-list"),
    path("settings/operators/new/", operators.operator_new, name="operator-new"),
    path("settings/operators/<int:pk>/", operators.operator_edit, name="operator-edit"),
    path("settings/operators/<int:pk>/disable/", operators.operator_set_active, {"active": False},
         name="operator-disable"),
    path("settings/operators/<int:pk>/enable/", operators.operator_set_active, {"active": True},
         name="operator-enable"),
    path("settings/operators/<int:pk>/password/", operators.operator_reset_password, name="operator-password"),
    path("settings/audit/", audit.audit_log, name="audit-log"),
    path("settings/logins/", audit.login_history, name="login-history"),
    path("meters/<int:pk>/install/", history.meter_install, name="meter-install"),
    path("meters/<int:pk>/command/", commands.meter_command, name="meter-command"),
    path("meters/<int:pk>/series.json", meter_data.meter_series, name="meter-series"),
    path("meters/<int:pk>/read-now/", meter_data.meter_read_now, name="meter-read-now"),
    path("meters/<int:pk>/read-now/<int:command_pk>/", meter_data.meter_read_now_answer, name="meter-read-now-answer"),
    path("meters/<int:pk>/remove/", history.meter_remove, name="meter-remove"),
    path("meters/<int:pk>/exchange/", history.meter_exchange, name="meter-exchange"),
    path("premises/<int:pk>/move-in/", history.premise_move_in, name="premise-move-in"),
    path("premises/<int:pk>/move-out/<int:customer_pk>/", history.premise_move_out, name="premise-move-out"),
    path("vee/", include("meterhub.vee.urls")),
    path("", include([p for r in REGISTRIES for p in urlpatterns_for(r)])),
    path("", include("meterhub.api.urls")),
]
