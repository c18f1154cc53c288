"""Where a prepaid account's supply stands, as a customer should see it, and reconnection on request.

`Account.supply` says what billing decided; the command that carries it out may still be
on its way, or may have failed (collector offline until the command expired). The state
here joins both, so the customer portal can say "being restored", not just "on".

Payment restores supply by itself (payments.take_payment -> prepaid.enforce). A customer
asks for reconnection when that did not reach the meter: the account is still off (the
restore could not be queued) or the last restore failed or expired. `request_restore`
then sends the restore again through the same path (prepaid.switch_supply: the durable
command queue, recorded as a SupplyAction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.assets.models import Meter
from meterhub.billing import ledger, prepaid
from meterhub.billing.models import Account, SupplyAction
from meterhub.comms.models import Command

IN_FLIGHT = (Command.Status.PENDING, Command.Status.SENDING)
DID_NOT_ARRIVE = (Command.Status.FAILED, Command.Status.EXPIRED, Command.Status.CANCELLED)


class RestoreRefused(ValueError):
    """Reconnection cannot be asked for now, with the reason (shown to the customer)."""


@dataclass(frozen=True)
class SupplyState:
    state: str  # on | off | restoring | cutting | restore_failed
    command: Command | None  # the last cut or restore, for its progress
    switched: bool  # prepaid with a relay or valve: billing switches it
    can_reconnect: bool

    @property
    def on(self) -> bool:
        return self.state in ("on", "cutting", "restore_failed")


def _last_switch(account: Account) -> SupplyAction | None:
    return (account.supply_actions.filter(action__in=[SupplyAction.Action.CUT, SupplyAction.Action.RESTORE],
                                          command__isnull=False).select_related("command").first())


def above_limit(account: Account) -> bool:
    return account.balance > -account.credit_limit


def state_of(account: Account) -> SupplyState:
    switched = account.payment_mode == Meter.PaymentMode.PREPAID and account.meter.switch in prepaid.RESTORE
    last = _last_switch(account) if switched else None
    command = last.command if last else None
    if account.supply == Account.Supply.OFF:
        state = "cutting" if last and last.action == SupplyAction.Action.CUT and command.status in IN_FLIGHT \
            else "off"
    elif last and last.action == SupplyAction.Action.RESTORE and command.status in IN_FLIGHT:
        state = "restoring"
    elif last and last.action == SupplyAction.Action.RESTORE and command.status in DID_NOT_ARRIVE:
        state = "restore_failed"
    else:
        state = "on"
    can = switched and above_limit(account) and state in ("off", "restore_failed")
    return SupplyState(state, command, switched, can)


@transaction.atomic
def request_restore(account: Account, *, requested_by: str, now: datetime | None = None) -> SupplyAction:
    """Send the restore again for an account that has paid but whose supply did not come back."""
    ledger.lock_accounts([account.pk])
    account = Account.objects.select_related("meter", "site").get(pk=account.pk)
    current = state_of(account)
    if not current.switched:
        raise RestoreRefused(_("The supply of this account is not switched remotely."))
    if current.state in ("restoring", "cutting"):
        raise RestoreRefused(_("A command to your meter is already on its way."))
    if not above_limit(account):
        raise RestoreRefused(_("The balance is at or below the limit: recharge first."))
    if current.state == "on":
        raise RestoreRefused(_("The supply is on."))
    kind = prepaid.RESTORE[account.meter.switch]
    return prepaid.switch_supply(account, kind, SupplyAction.Action.RESTORE, Account.Supply.ON, now or timezone.now(),
                                 f"reconnection asked for by {requested_by}")
