"""`meterhub web` and `meterhub demo`: serve the console (and, in demo, the whole system)."""

from __future__ import annotations

import asyncio
import os

import click

from meterhub.cli import setup_django

DEMO_USER, DEMO_PASSWORD = "demo", "meterhub-demo"


def _uvicorn(host: str, port: int):
    import uvicorn

    return uvicorn.Server(uvicorn.Config("meterhub.asgi:application", host=host, port=port, log_level="info",
                                         lifespan="off"))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for the LAN).")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def web(host, port):
    """Serve the operator console. Run `meterhub migrate` first after an upgrade."""
    setup_django()
    _uvicorn(host, port).run()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the console listens on (0.0.0.0 for the LAN).")
@click.option("--port", default=8000, show_default=True, type=int, help="Console port.")
@click.option("--headend-port", default=9100, show_default=True, type=int, help="Port collectors dial in to.")
@click.option("--control-port", default=9190, show_default=True, type=int,
              help="Simulator control channel (`meterhub simulate tamper ...`).")
@click.option("--no-field", is_flag=True, help="Console only: no head-end, no simulated field.")
@click.option("--no-serve", is_flag=True, help="Prepare the database and demo site, then exit.")
def demo(host, port, headend_port, control_port, no_field, no_serve):
    """Everything on the embedded default: a demo site with 100+ meters, the console, the
    head-end and a simulated field of collectors and meters that dial in to it."""
    os.environ.setdefault("METERHUB_DEBUG", "0")
    os.environ.setdefault("METERHUB_SMS_TO_TERMINAL", "1")  # the portal's codes appear here
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from meterhub.accounts.models import User
    from meterhub.accounts.roles import Role
    from meterhub.accounts.services import create_operator
    from meterhub.assets.demo import SITE_CODE, load_demo_site
    from meterhub.assets.models import Meter, Site
    from meterhub.comms.plans import ensure_default_plans

    call_command("migrate", interactive=False, verbosity=0)
    with click.progressbar(length=1, label="Loading the demo site") as bar:
        created = load_demo_site()
        bar.update(1)
    ensure_default_plans(Site.objects.get(code=SITE_CODE))
    if not User.objects.filter(username=DEMO_USER).exists():
        create_operator(username=DEMO_USER, role=Role.ADMINISTRATOR, password=DEMO_PASSWORD,
                        full_name="Demo administrator")
    from meterhub.seals.demo import load_demo_seals

    load_demo_seals(SITE_CODE, User.objects.get(username=DEMO_USER))
    from meterhub.portal.demo import load_demo_portal

    household = load_demo_portal(SITE_CODE)
    from meterhub.kiosk.demo import CODE as KIOSK_CODE
    from meterhub.kiosk.demo import DEMO_KEY, load_demo_terminal

    kiosk = load_demo_terminal(SITE_CODE)
    click.echo("")
    click.echo(f"  meterhub demo {'created' if created else 'ready'}: {Meter.objects.count()} meters")
    click.echo(f"  database:  {settings.DATABASES['default']['NAME']}")
    if not no_field:
        click.echo(f"  head-end:  collectors dial in to 127.0.0.1:{headend_port}")
        click.echo(f"  simulator: meterhub simulate tamper --meter E240101000001 --kind seal-open "
                   f"--port {control_port}")
    click.echo(f"  open:      http://{host}:{port}/")
    click.echo(f"  sign in:   {DEMO_USER} / {DEMO_PASSWORD}")
    if household is not None:
        click.echo(f"  portal:    http://{host}:{port}/portal/ (a phone-sized window): mobile {household.phone}; "
                   "the code is printed here, below (the demo's SMS gateway is this terminal)")
        click.echo(f"             bind {household.accounts[0]} as {household.name}, ID {household.id_number}; "
                   "recharge through the sandbox page (docs/portal.md)")
    if kiosk is not None:
        click.echo(f"  kiosk:     http://{host}:{port}/kiosk/pair/ (a portrait window): terminal {KIOSK_CODE}, "
                   f"key {DEMO_KEY}; look up {household.accounts[0] if household else 'an account number'} "
                   "(docs/kiosk.md)")
    click.echo("")
    if no_serve:
        return
    if no_field:
        _uvicorn(host, port).run()
        return
    from meterhub.demo_field import fleet_for_site

    fleet_description = fleet_for_site(SITE_CODE, headend=("127.0.0.1", headend_port), control_port=control_port)
    try:
        asyncio.run(_run_everything(host, port, headend_port, fleet_description))
    except KeyboardInterrupt:
        pass


async def _run_everything(host: str, port: int, headend_port: int, fleet_description: dict) -> None:
    from meterhub.runtime import run_headend
    from meterhub.sim.fleet import Fleet, parse_fleet

    ready = asyncio.Event()
    headend = asyncio.create_task(run_headend("127.0.0.1", headend_port, node="demo", ready=ready))
    await ready.wait()
    fleet = Fleet(parse_fleet(fleet_description))
    await fleet.start(wait=False, control=True)
    try:
        await _uvicorn(host, port).serve()
    finally:
        await fleet.stop()
        headend.cancel()
