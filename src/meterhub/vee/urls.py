from django.urls import path

from meterhub.vee import views

urlpatterns = [
    path("findings/", views.finding_list, name="vee-findings"),
    path("findings/<int:pk>/decide/", views.finding_decide, name="vee-finding-decide"),
    path("meters/<int:pk>/readings/", views.meter_readings, name="vee-meter-readings"),
    path("meters/<int:pk>/edit/", views.reading_edit, name="vee-reading-edit"),
    path("sites/<int:pk>/settings/", views.site_settings, name="vee-settings"),
]
