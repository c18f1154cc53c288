"""`meterhub aggregates`: rebuild the derived figures, mark master meters."""

from __future__ import annotations

import sys
from datetime import date, timedelta

import click

from meterhub.cli import setup_django


@click.group()
def aggregates():
    """Daily/monthly consumption, building and site totals, collection statistics.

    They are kept current as readings arrive; these commands rebuild them (after an
    import of old readings with processing off, or a change of master meters).
    """


@aggregates.command()
@click.option("--site", "site_code", help="Only this site (its code).")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First day (UTC), YYYY-MM-DD.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC); default today.")
def rebuild(site_code, start, end):
    """Recompute every meter's days from --from to --to, then the totals and collection figures."""
    setup_django()
    from django.utils import timezone

    from meterhub.aggregates import maintain
    from meterhub.assets.models import Meter

    first = start.date()
    last = end.date() if end else timezone.now().date()
    if last < first:
        raise click.BadParameter("--to is before --from")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    meters = Meter.objects.order_by("pk")
    if site_code:
        meters = meters.filter(site__code=site_code)
    ids = list(meters.values_list("pk", flat=True))
    site_days: set[tuple[int, date]] = set()
    with click.progressbar(length=len(ids), label="meters", file=sys.stderr) as bar:
        for start in range(0, len(ids), maintain.CHUNK):
            chunk = ids[start:start + maintain.CHUNK]
            touched = maintain.recompute_meters(dict.fromkeys(chunk, days))
            site_days |= {(m.site_id, d) for m, touched_days in touched.items() for d in touched_days}
            bar.update(len(chunk))
    maintain.refresh_sites(site_days)
    click.echo(f"rebuilt {len(ids)} meters, {len(site_days)} site-days")


@aggregates.command()
@click.argument("serial")
@click.option("--building", "building_code", help="The building it feeds; leave out for the site's incoming supply.")
@click.option("--remove", is_flag=True, help="It is no longer a master meter.")
def master(serial, building_code, remove):
    """Mark meter SERIAL as a master meter (line loss = master - sum of the premises' meters)."""
    setup_django()
    from django.core.exceptions import ValidationError

    from meterhub.aggregates import masters
    from meterhub.assets.models import Building, Meter

    meter = Meter.objects.filter(serial=serial).select_related("site").first()
    if meter is None:
        raise click.ClickException(f"no meter {serial}")
    building = None
    if building_code:
        building = Building.objects.filter(site=meter.site, code=building_code).first()
        if building is None:
            raise click.ClickException(f"no building {building_code} on site {meter.site.code}")
    try:
        if remove:
            masters.unmark(meter)
        else:
            masters.mark(meter, building)
    except ValidationError as exc:
        raise click.ClickException("; ".join(exc.messages)) from exc
    click.echo(f"{serial}: {'not a master meter' if remove else 'master meter of ' + (building_code or 'the site')}")
