"""/portal/: the customer portal. Every view carries its access kind (portal.access); a test
walks them all (tests/portal/test_access.py)."""

from django.urls import path

from meterhub.portal.views import accounts, app, money, signin

app_name = "portal"

urlpatterns = [
    path("", accounts.home, name="home"),
    path("signin/", signin.sign_in, name="sign-in"),
    path("signin/code/", signin.sign_in_code, name="sign-in-code"),
    path("signout/", signin.sign_out, name="sign-out"),
    path("bind/", accounts.bind, name="bind"),
    path("bind/code/", accounts.bind_code, name="bind-code"),
    path("accounts/<int:pk>/", accounts.account_page, name="account"),
    path("accounts/<int:pk>/usage/", accounts.usage_page, name="usage"),
    path("accounts/<int:pk>/messages/", accounts.messages_page, name="messages"),
    path("accounts/<int:pk>/contact/", accounts.contact, name="contact"),
    path("accounts/<int:pk>/unbind/", accounts.unbind, name="unbind"),
    path("accounts/<int:pk>/bills/", money.bills, name="bills"),
    path("accounts/<int:pk>/bills/<int:bill>.pdf", money.bill_pdf, name="bill-pdf"),
    path("accounts/<int:pk>/payments/", money.payments, name="payments"),
    path("accounts/<int:pk>/payments/<int:payment>/receipt.pdf", money.receipt, name="receipt"),
    path("accounts/<int:pk>/statement.pdf", money.statement, name="statement"),
    path("accounts/<int:pk>/recharge/", money.recharge, name="recharge"),
    path("accounts/<int:pk>/orders/<str:number>/", money.order_page, name="order"),
    path("accounts/<int:pk>/orders/<str:number>/status.json", money.order_status, name="order-status"),
    path("accounts/<int:pk>/reconnect/", money.reconnect, name="reconnect"),
    path("accounts/<int:pk>/supply.json", money.supply_status, name="supply-status"),
    path("manifest.webmanifest", app.manifest, name="manifest"),
    path("sw.js", app.service_worker, name="service-worker"),
    path("offline/", app.offline, name="offline"),
]
