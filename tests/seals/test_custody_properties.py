"""Any sequence of custody actions: the seal's state is always its last event's outcome,
the trail is a chain, and a refused action changes nothing."""

from __future__ import annotations

import itertools

from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.seals import custody
from meterhub.seals.models import Seal, SealEvent
from tests.seals.test_custody import act

ACTIONS = ["issue", "hand_back", "install", "remove", "return", "destroy", "lose", "void"]
serials = itertools.count(1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(st.sampled_from(ACTIONS), max_size=12))
def test_any_sequence_keeps_state_and_trail_consistent(actions, tech, storekeeper, meter):
    n = next(serials)
    serial = f"P{n:06d}"
    custody.receive_batch(f"PB{n}", "plastic", n, n, custody.Where(storekeeper), prefix="P")
    for action in actions:
        before = list(SealEvent.objects.filter(seal__serial=serial).values_list("id", flat=True))
        state = Seal.objects.get(serial=serial).state
        allowed, to_state = custody.TRANSITIONS[action]
        position_taken = action == "install" and custody.installed_at(meter, None, "optical_port") is not None
        try:
            act(action, serial, tech, storekeeper, meter)
        except ValidationError:
            assert state not in allowed or position_taken
            assert list(SealEvent.objects.filter(seal__serial=serial).values_list("id", flat=True)) == before
            assert Seal.objects.get(serial=serial).state == state
        else:
            assert state in allowed and Seal.objects.get(serial=serial).state == to_state
    trail = list(SealEvent.objects.filter(seal__serial=serial).order_by("id").values_list("from_state", "to_state"))
    assert all(prev[1] == nxt[0] for prev, nxt in zip(trail, trail[1:], strict=False))
    assert trail[-1][1] == Seal.objects.get(serial=serial).state
    if Seal.objects.get(serial=serial).state == "installed":  # free the position for the next example
        custody.remove(serial, "property test", custody.Where(tech))
