"""`meterhub notify`: deliver queued notifications (SMS, e-mail, WeChat, webhooks)."""

from __future__ import annotations

import asyncio
import logging
import socket

import click

from meterhub.cli import setup_django


@click.command()
@click.option("--node", default=None, help="Name of this worker in the message log (default: host name).")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
def notify(node, once):
    """Deliver the notification outbox with retries, until stopped (Ctrl-C).

    The head-end runs the same worker; run this as well (or instead) to send from another
    machine: workers share the outbox and never send a message twice. Channels come from
    the environment (METERHUB_SMS_URL, METERHUB_SMTP_HOST, METERHUB_WECHAT_URL ...; see
    docs/alarms.md); a message for a channel not configured fails with that reason.
    """
    setup_django()
    from django.db import connections

    from meterhub.headend.blocking import Blocking
    from meterhub.notifications import channels, outbox
    from meterhub.notifications.worker import run_notifier

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    node = node or socket.gethostname()
    adapters = channels.from_environment()
    click.echo(f"notify: channels {', '.join(sorted(adapters))} on node {node}")

    async def main():
        database = Blocking(connections.close_all, name="notify-db")
        try:
            if once:
                sent = 0
                while claimed := await database.run(outbox.claim, node, 50):
                    for message in claimed:
                        ok, detail, permanent = await asyncio.to_thread(channels.deliver, adapters, message)
                        await database.run(outbox.finish, outbox.Outcome(message.pk, message.attempts, ok, detail,
                                                                         permanent), node)
                        sent += ok
                click.echo(f"notify: {sent} sent")
                return
            await run_notifier(database.run, node=node, adapters=adapters)
        finally:
            await database.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
