"""Accounts follow tenancies and installations."""

from datetime import date

import pytest

from meterhub.assets import history
from meterhub.assets.models import Customer, Meter, Premise
from meterhub.billing.accounts import sync_accounts
from meterhub.billing.models import Account
from tests.billing.conftest import local

pytestmark = pytest.mark.django_db


def test_an_account_per_tenancy_and_meter_opened_and_closed_with_the_history(site):
    premise = Premise.objects.create(site=site, unit="101")
    power = Meter.objects.create(serial="E1", site=site, address="1", payment_mode="prepaid")
    water = Meter.objects.create(serial="W1", site=site, address="2", kind="water", protocol="mbus")
    ann, bob = (Customer.objects.create(account_no=n, name=n) for n in ("ANN", "BOB"))
    history.install_meter(power, premise, local(2026, 1, 1))
    history.install_meter(water, premise, local(2026, 1, 1))
    history.move_in(ann, premise, local(2026, 2, 1, 10))
    first = sync_accounts(site, now=local(2026, 3, 1))
    assert sorted(first.opened) == [f"ANN-E{power.pk}", f"ANN-W{water.pk}"]
    account = Account.objects.get(number=f"ANN-E{power.pk}")
    assert (account.payment_mode, account.utility, account.opened_on, account.closed_on) == (
        "prepaid", "electricity", date(2026, 2, 1), None)
    assert sync_accounts(site, now=local(2026, 3, 1)).opened == []
    history.move_out(ann, premise, local(2026, 6, 30, 18))
    history.move_in(bob, premise, local(2026, 7, 1, 9))
    second = sync_accounts(site, now=local(2026, 7, 2))
    assert sorted(second.closed) == [f"ANN-E{power.pk}", f"ANN-W{water.pk}"]
    assert sorted(second.opened) == [f"BOB-E{power.pk}", f"BOB-W{water.pk}"]
    assert Account.objects.get(number=f"ANN-W{water.pk}").closed_on == date(2026, 6, 30)


def test_cli_opens_accounts_and_bills_a_period(site, flat_tariff):
    from click.testing import CliRunner

    from meterhub.cli import main
    from tests.billing.conftest import store

    premise = Premise.objects.create(site=site, unit="101")
    meter = Meter.objects.create(serial="E1", site=site, address="1")
    history.install_meter(meter, premise, local(2026, 1, 1))
    history.move_in(Customer.objects.create(account_no="ANN", name="Ann"), premise, local(2026, 1, 2))
    runner = CliRunner()
    assert "north: 1 opened, 0 closed" in runner.invoke(main, ["bill", "accounts"]).output
    store(meter, local(2026, 11, 1), energy_import=0)
    result = runner.invoke(main, ["bill", "run", "--period", "2026-11"])
    assert result.exit_code == 1 and "no settlement read" in result.output  # closing read missing: listed
    store(meter, local(2026, 12, 1), energy_import=10)
    result = runner.invoke(main, ["bill", "run", "--period", "2026-11"])
    assert result.exit_code == 0 and "north 2026-11: 1 billed, 0 already billed, 0 problems" in result.output
    assert runner.invoke(main, ["bill", "run", "--period", "2026-13"]).exit_code == 2
    assert "0 reminders" in runner.invoke(main, ["bill", "overdue", "--day", "2026-12-02"]).output
