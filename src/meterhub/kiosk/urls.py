"""/kiosk/: the self-service terminal's screens. Every view carries its access kind (kiosk.access);
a test walks them all (tests/kiosk/test_access.py)."""

from django.urls import path

from meterhub.kiosk.views import payment, screens

app_name = "kiosk"

urlpatterns = [
    path("", screens.start, name="start"),
    path("pair/", screens.pair, name="pair"),
    path("heartbeat/", screens.heartbeat, name="heartbeat"),
    path("language/", screens.language, name="language"),
    path("finish/", screens.finish, name="finish"),
    path("account/", screens.account, name="account"),
    path("account/live/", screens.live_start, name="live"),
    path("account/live/<int:command>/", screens.live_answer, name="live-answer"),
    path("account/pay/", payment.pay, name="pay"),
    path("orders/<str:number>/", payment.order, name="order"),
    path("orders/<str:number>/status.json", payment.order_status, name="order-status"),
    path("orders/<str:number>/cancel/", payment.order_cancel, name="order-cancel"),
    path("orders/<str:number>/receipt/", payment.receipt, name="receipt"),
    path("orders/<str:number>/receipt.pdf", payment.receipt_pdf, name="receipt-pdf"),
]
