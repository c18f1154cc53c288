"""The supply state a customer sees (billing decision joined with the command carrying it out),
and reconnection on request when a restore did not reach the meter."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from meterhub.billing import ledger, prepaid, supply
from meterhub.billing.models import Account, SupplyAction
from meterhub.comms.models import Command
from tests.billing.conftest import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def cut_off(site, collector):
    account = make_account(site, "C1", mode="prepaid", switch="relay", collector=collector, supply="off")
    ledger.post(account, "recharge", Decimal("10.00"), key="k1", source="test")
    return account


def test_a_postpaid_account_is_not_switched_by_billing(site):
    state = supply.state_of(make_account(site, "POST", mode="postpaid"))
    assert (state.state, state.switched, state.can_reconnect, state.on) == ("on", False, False, True)
    with pytest.raises(supply.RestoreRefused, match="not switched remotely"):
        supply.request_restore(make_account(site, "POST2", mode="postpaid"), requested_by="t")


def test_an_account_off_with_money_on_it_can_ask_for_reconnection(cut_off):
    assert supply.state_of(cut_off).state == "off" and supply.state_of(cut_off).can_reconnect
    action = supply.request_restore(cut_off, requested_by="customer:138****0001")
    assert action.action == "restore" and action.command.kind == "relay_direct_close"
    assert "customer:138****0001" in action.reason
    cut_off.refresh_from_db()
    state = supply.state_of(cut_off)
    assert (cut_off.supply, state.state, state.command, state.can_reconnect) == ("on", "restoring", action.command,
                                                                                 False)
    with pytest.raises(supply.RestoreRefused, match="already on its way"):
        supply.request_restore(cut_off, requested_by="t")


def test_a_restore_that_never_reached_the_meter_can_be_asked_for_again(cut_off):
    first = supply.request_restore(cut_off, requested_by="t").command
    Command.objects.filter(pk=first.pk).update(status="expired")
    cut_off.refresh_from_db()
    assert supply.state_of(cut_off).state == "restore_failed" and supply.state_of(cut_off).can_reconnect
    again = supply.request_restore(cut_off, requested_by="t")
    assert again.command != first and supply.state_of(cut_off).state == "restoring"
    Command.objects.filter(pk=again.command.pk).update(status="done")
    assert supply.state_of(cut_off).state == "on"
    with pytest.raises(supply.RestoreRefused, match="The supply is on"):
        supply.request_restore(cut_off, requested_by="t")


def test_no_reconnection_at_or_below_the_limit(cut_off):
    ledger.post(cut_off, "correction", Decimal("-10.00"), key="k2", source="test")
    assert not supply.state_of(cut_off).can_reconnect
    with pytest.raises(supply.RestoreRefused, match="recharge first"):
        supply.request_restore(cut_off, requested_by="t")


def test_a_cut_on_its_way_shows_as_cutting(cut_off):
    Account.objects.filter(pk=cut_off.pk).update(supply="on")
    cut_off.refresh_from_db()
    ledger.post(cut_off, "correction", Decimal("-20.00"), key="k3", source="test")
    prepaid.switch_supply(cut_off, "relay_trip", SupplyAction.Action.CUT, Account.Supply.OFF,
                          timezone.now(), "test")
    assert supply.state_of(cut_off).state == "cutting"


def test_a_meter_off_its_collector_is_recorded_as_not_sent(cut_off):
    from meterhub.assets.models import Meter

    Meter.objects.filter(pk=cut_off.meter_id).update(collector=None)
    cut_off.refresh_from_db()
    action = supply.request_restore(cut_off, requested_by="t")
    assert action.action == "failed" and "not on a collector" in action.reason
