"""What a customer's account page shows: money, supply, seals and messages (data, no HTML)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from meterhub.assets.models import Meter
from meterhub.billing import supply
from meterhub.billing.models import Account, Bill
from meterhub.notifications.models import Channel, ContactPreference, Message
from meterhub.portal import codes
from meterhub.seals import custody


@dataclass(frozen=True)
class Money:
    prepaid: bool
    balance: Decimal  # + the customer's money
    currency: str
    amount_due: Decimal  # postpaid: what is owed now (0 when in credit)
    limit: Decimal  # prepaid: supply is cut at or below this balance
    latest_bill: Bill | None

    @property
    def to_restore(self) -> Decimal:
        """Prepaid and at or below the limit: the least recharge that switches the supply back on."""
        return self.limit - self.balance + Decimal("0.01") if self.prepaid and self.balance <= self.limit \
            else Decimal(0)


@dataclass(frozen=True)
class Overview:
    account: Account
    money: Money
    supply: supply.SupplyState


def money_of(account: Account) -> Money:
    prepaid = account.payment_mode == Meter.PaymentMode.PREPAID
    return Money(prepaid, account.balance, account.site.currency, max(-account.balance, Decimal(0)),
                 -account.credit_limit, account.bills.first())


def overview(account: Account) -> Overview:
    return Overview(account, money_of(account), supply.state_of(account))


def seals_of(meter: Meter) -> dict:
    """The seals installed on the meter and its open seal alarms (seals.custody.seal_status),
    with when the first of those alarms was raised."""
    status = custody.seal_status(meter)
    return {**status, "opened_at": min((a.raised_at for a in status["alarms"]), default=None)}


def messages_for(account: Account, limit: int = 50):
    """Messages we sent to the account's customer (SMS, e-mail, WeChat) since the account opened;
    not sign-in and binding codes."""
    customer = account.customer
    pref = ContactPreference.objects.filter(customer=customer).first()
    addressed = Q(channel=Channel.SMS, recipient=customer.phone) if customer.phone else Q(pk__in=[])
    if customer.email:
        addressed |= Q(channel=Channel.EMAIL, recipient=customer.email)
    if pref and pref.wechat_openid:
        addressed |= Q(channel=Channel.WECHAT, recipient=pref.wechat_openid)
    return (Message.objects.filter(addressed, created_at__date__gte=account.opened_on)
            .exclude(event=codes.EVENT).order_by("-created_at", "-id")[:limit])
