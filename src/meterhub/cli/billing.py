"""`meterhub bill ...`: the monthly bill run and the overdue follow-up, from the command line."""

from __future__ import annotations

import sys
from datetime import date

import click

from meterhub.cli import setup_django


@click.group()
def bill():
    """Billing: settle a period, follow up overdue bills."""


def _sites(code: str | None):
    from meterhub.assets.models import Site

    sites = Site.objects.all()
    if code:
        sites = sites.filter(code=code)
        if not sites:
            raise click.ClickException(f"no site {code}")
    return list(sites)


@bill.command()
@click.option("--period", required=True, help="The period to settle, YYYY-MM (from the site's settlement day).")
@click.option("--site", "site_code", help="Only this site (code); default every site.")
@click.option("--batch-size", default=1000, show_default=True, help="Accounts per transaction.")
def run(period: str, site_code: str | None, batch_size: int):
    """Bill every account for PERIOD. Idempotent: running it again (after a crash, or twice
    by mistake) bills only the accounts without a bill for the period. Accounts that cannot
    be settled (no read, a register running backwards, no tariff) are listed and left for a
    later run. Exit status 0 when every account is billed, 1 when some could not be."""
    setup_django()
    from meterhub.billing import settlement

    try:
        settlement.parse_period(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    problems = 0
    for site in _sites(site_code):
        start, end = settlement.period_bounds(period, settlement.settings_for(site).settlement_day)
        total = settlement.accounts_to_bill(site, start, end).count()
        with click.progressbar(length=total, label=f"{site.code} {period}", file=sys.stderr) as bar:
            result = settlement.run(site, period, batch_size=batch_size, started_by="cli", progress=bar.update)
        click.echo(f"{site.code} {period}: {result.billed} billed, {result.already_billed} already billed, "
                   f"{len(result.problems)} problems")
        for p in result.problems:
            click.echo(f"  {p['account']}: {p['problem']}", err=True)
        problems += len(result.problems)
    if problems:
        sys.exit(1)


@bill.command()
@click.option("--site", "site_code", help="Only this site (code); default every site.")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="As of this day (default today).")
def overdue(site_code: str | None, day):
    """Record reminders for overdue bills and charge late fees where the site has them (once each)."""
    setup_django()
    from django.utils import timezone

    from meterhub.billing import settlement

    for site in _sites(site_code):
        today: date = day.date() if day else timezone.localdate()
        reminded = settlement.remind_overdue(site, today)
        fees = settlement.charge_late_fees(site, today)
        click.echo(f"{site.code} {today}: {reminded} reminders, {fees} late fees")


@bill.command()
@click.option("--site", "site_code", help="Only this site (code); default every site.")
def accounts(site_code: str | None):
    """Open an account for each tenant and installed meter, close those whose tenancy or
    installation ended (safe to run again: it changes only what is not right yet)."""
    setup_django()
    from meterhub.billing.accounts import sync_accounts

    for site in _sites(site_code):
        result = sync_accounts(site)
        click.echo(f"{site.code}: {len(result.opened)} opened, {len(result.closed)} closed")
