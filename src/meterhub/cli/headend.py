"""`meterhub headend`: the master station process."""

from __future__ import annotations

import asyncio

import click

from meterhub.cli import setup_django


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address collectors dial in to.")
@click.option("--port", default=9100, show_default=True, type=int, help="Port collectors dial in to.")
@click.option("--node", default=None, help="Name of this head-end in logs and the command queue (default: host name).")
@click.option("--mqtt", default=None, metavar="HOST:PORT", help="Subscribe to Glow feeds on this MQTT broker.")
@click.option("--glow-prefix", default="glow", show_default=True, help="Topic prefix the Glow devices publish under.")
@click.option("--mqtt-gateways", is_flag=True, default=False,
              help="Serve MQTT gateway collectors from this head-end (one head-end per broker: a bus takes "
                   "one master)")
def headend(host, port, node, mqtt, glow_prefix, mqtt_gateways):
    """Accept collectors, run read plans, carry out queued commands.

    Several head-ends may run against one PostgreSQL: each serves the collectors that
    connect to it and claims only commands for those. All of them may take Glow feeds
    (--mqtt); only one per broker may serve MQTT gateways (--mqtt-gateways).
    """
    if mqtt_gateways and not mqtt:
        raise click.UsageError("--mqtt-gateways needs --mqtt HOST:PORT (the broker the gateways use)")
    setup_django()
    from meterhub.runtime import run_headend

    try:
        broker = None
        if mqtt:
            mqtt_host, _, mqtt_port = mqtt.rpartition(":")
            broker = (mqtt_host or "127.0.0.1", int(mqtt_port or 1883))
        asyncio.run(run_headend(host, port, node, mqtt=broker, glow_prefix=glow_prefix,
                                mqtt_gateways=mqtt_gateways))
    except KeyboardInterrupt:
        pass
