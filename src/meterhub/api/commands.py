"""Meter commands: the queue (assets.view to read it) and a new command (commands.send)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status
from ninja.errors import HttpError

from meterhub.accounts import roles
from meterhub.api import paging
from meterhub.api.filters import given
from meterhub.api.registry import IdPageQuery
from meterhub.api.routes import get, post
from meterhub.api.schemas import CommandIn, CommandOut, CommandPage, DbInt
from meterhub.assets.models import Meter
from meterhub.comms import commands
from meterhub.comms.models import Command

router = Router(tags=["commands"])
FIELDS = ("id", "meter_id", "kind", "params", "status", "requested_by", "reason", "created_at", "valid_until",
          "attempts", "finished_at", "result")


class CommandQuery(IdPageQuery):
    meter_id: DbInt | None = None
    status: str | None = None  # pending | sending | done | failed | expired | cancelled
    kind: str | None = None


def _out(command: Command) -> dict:
    return {name: getattr(command, name) for name in FIELDS}


@get(router, "/commands", roles.ASSETS_VIEW, url_name="api-commands", response=CommandPage,
     summary="Commands sent to meters and their outcome")
def command_list(request, q: Query[CommandQuery]):
    rows = given(Command.objects.all(), meter_id=q.meter_id, status=q.status, kind=q.kind)
    items, next_after = paging.by_id(rows, q.limit, q.after)
    return {"items": [_out(c) for c in items], "next_after": next_after}


@post(router, "/commands", roles.COMMANDS_SEND, url_name="api-commands", response={201: CommandOut},
      summary="Queue a command for a meter (carried out once by the head-end)")
def command_create(request, body: CommandIn):
    meter = get_object_or_404(Meter, pk=body.meter_id)
    try:
        command = commands.request_command(meter, body.kind, actor=request.user, params=body.params,
                                           reason=body.reason[:200])
    except ValidationError as exc:
        raise HttpError(400, " ".join(exc.messages)) from exc
    return Status(201, _out(command))
