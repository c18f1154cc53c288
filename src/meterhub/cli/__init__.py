"""The `meterhub` console script: one entry point, a subcommand per part.

Subcommands load lazily so `meterhub decode` does not pay for Django start-up.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute"; each module owns its command and its --help.
SUBCOMMANDS = {
    "web": ("meterhub.cli.server:web", "Serve the operator console and API."),
    "demo": ("meterhub.cli.server:demo", "Start everything on the embedded default with a demo site."),
    "headend": ("meterhub.cli.headend:headend", "Run the head-end: collector sessions, read plans, commands."),
    "simulate": ("meterhub.cli.simulate:simulate", "Run the simulated field: meters, seal chips, collectors."),
    "migrate": ("meterhub.cli.admin:migrate", "Create or upgrade the database schema."),
    "user": ("meterhub.cli.admin:user", "Add, disable and re-enable operator accounts."),
    "import": ("meterhub.cli.importing:import_", "Import collectors, meters or customers (CSV/Excel)."),
    "manage": ("meterhub.cli.admin:manage", "Run a Django management command (for maintainers)."),
    "decode": ("meterhub.cli.decode:decode", "Decode a frame (hex or JSON) and print it as JSON."),
    "bench": ("meterhub.cli.bench:bench", "Run a benchmark and print its figures as JSON."),
    "seal": ("meterhub.cli.seal:seal", "Check seal codes; seal keys, stock and labels."),
    "aggregates": ("meterhub.cli.aggregates:aggregates", "Rebuild consumption figures; mark master meters."),
    "bill": ("meterhub.cli.billing:bill", "Billing: the monthly bill run, overdue reminders and late fees."),
    "token": ("meterhub.cli.token:token", "Create, list and revoke API tokens."),
    "notify": ("meterhub.cli.notify:notify", "Deliver queued notifications (SMS, e-mail, WeChat, webhooks)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS:
            return None
        module_name, attr = SUBCOMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx, formatter):
        # Short help from the table, so `meterhub --help` imports nothing heavy.
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(name="meterhub", cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="meterhub")
def main():
    """meterhub: read every meter remotely, bill every customer, catch tampering.

    State lives under ./var (or $METERHUB_VAR) on embedded SQLite unless
    DATABASE_URL points at PostgreSQL.
    """


def setup_django() -> None:
    """Configure Django for commands that need the database."""
    import os

    import django

    from meterhub.i18n import compile_messages

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meterhub.settings")
    compile_messages()
    django.setup()
