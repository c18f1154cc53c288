"""The sandbox payment provider: meterhub pretends to be the provider, for demos and tests.

A provider configured with `sandbox` set has no cloud behind it. Its "hosted payment page"
is meterhub's own (web/views/checkout.py); pressing Pay there does what the provider's
servers would do: sign a notification with the provider's secret and POST it, over real
HTTP, to our own webhook URL. From there on the path is the real one (signature check,
payments.handle_webhook, checkout, take_payment, prepaid restore), so what the sandbox
shows is what a real provider's payment does. Never configure a provider that takes real
money as a sandbox: anyone holding an order's page could "pay" it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from meterhub.billing import payments
from meterhub.billing.models import PaymentOrder

TIMEOUT_S = 15.0


class SandboxError(RuntimeError):
    pass


@dataclass(frozen=True)
class Delivery:
    status: int  # what our webhook answered
    outcome: str  # its body: credited, duplicate, rejected, ...


def notification(order: PaymentOrder, now: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and signature header the provider would send for this order, paid now.

    The provider's reference is derived from the order, so pressing Pay twice is the same
    payment notified twice (credited once), as at a real provider."""
    if not order.provider.sandbox:
        raise SandboxError(f"provider {order.provider.code} is not a sandbox")
    now = now or timezone.now()
    body = json.dumps({"id": f"SBX-{order.number}", "order": order.number, "account": order.account.number,
                       "amount": str(order.amount), "currency": order.currency, "paid_at": now.isoformat()},
                      sort_keys=True).encode()
    return body, {payments.SIGNATURE_HEADER: payments.sign(order.provider.secret, body, int(now.timestamp()))}


def pay(order: PaymentOrder, webhook_url: str, now: datetime | None = None) -> Delivery:
    """Send the provider's notification for this order to `webhook_url` (ours), over HTTP."""
    body, headers = notification(order, now)
    request = urllib.request.Request(webhook_url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - our own URL
            return Delivery(response.status, response.read(200).decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        return Delivery(exc.code, exc.read(200).decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError) as exc:
        raise SandboxError(f"the webhook {webhook_url} could not be reached: {getattr(exc, 'reason', exc)}") \
            from exc
