"""The supply state as the portal shows and polls it: a label and the last command's steps."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterhub.billing.prepaid import RESTORE
from meterhub.billing.supply import DID_NOT_ARRIVE, IN_FLIGHT, SupplyState
from meterhub.comms.models import Command

LABELS = {
    "on": _("Supply on"),
    "off": _("Supply off"),
    "restoring": _("Switching your supply on"),
    "cutting": _("Switching your supply off"),
    "restore_failed": _("Switching on did not reach your meter"),
}
SENT = {"sent", "acknowledged", "confirmed", "not_confirmed"}
RECENT = timedelta(minutes=15)
RESTORE_KINDS = frozenset(RESTORE.values())  # a finished command's steps stay on the page this long


def steps_of(command: Command) -> list[dict]:
    seen = set(command.steps.values_list("step", flat=True))
    done = command.status == Command.Status.DONE
    return [{"key": "asked", "label": str(_("Asked for")), "done": True},
            {"key": "sent", "label": str(_("Sent to your meter")), "done": done or bool(seen & SENT)},
            {"key": "confirmed", "label": str(_("Confirmed by your meter")), "done": done}]


def supply_progress(state: SupplyState) -> dict:
    command = state.command
    # Steps for a command on its way, and for a restore until a while after it ended: the
    # customer watches their supply come back; a cut carried out needs no progress bar.
    restore = command is not None and command.kind in RESTORE_KINDS
    show = command is not None and (
        command.status in IN_FLIGHT or restore and command.status in DID_NOT_ARRIVE and state.state == "restore_failed"
        or restore and command.finished_at is not None and timezone.now() - command.finished_at < RECENT)
    return {"state": state.state, "label": str(LABELS[state.state]), "on": state.on, "switched": state.switched,
            "in_flight": state.state in ("restoring", "cutting"), "can_reconnect": state.can_reconnect,
            "command": command.kind if show else "", "command_status": command.status if show else "",
            "steps": steps_of(command) if show else []}
