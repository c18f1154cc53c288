"""The lookup limits as a pure function of the terminal's recent lookups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from meterhub.kiosk.lookup import LOOKUPS, MISSES, WINDOW, clean, paused_until

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
recent_lookups = st.lists(st.tuples(st.integers(0, 1200).map(lambda s: NOW - timedelta(seconds=s)), st.booleans()),
                          max_size=80)


@given(recent_lookups)
def test_paused_exactly_when_a_limit_is_reached_and_never_beyond_the_window(recent):
    in_window = [(at, found) for at, found in recent if at > NOW - WINDOW]
    over = len(in_window) >= LOOKUPS or sum(not found for _at, found in in_window) >= MISSES
    until = paused_until(recent, NOW)
    assert (until is not None) == over
    if until is not None:
        assert NOW < until <= NOW + WINDOW


@given(recent_lookups)
def test_once_paused_until_then_the_terminal_may_look_up_again(recent):
    until = paused_until(recent, NOW)
    if until is not None:
        assert paused_until(recent, until) is None


def test_misses_pause_sooner_than_lookups():
    misses = [(NOW - timedelta(seconds=n), False) for n in range(MISSES)]
    assert paused_until(misses, NOW) == NOW - timedelta(seconds=MISSES - 1) + WINDOW
    found = [(NOW - timedelta(seconds=n), True) for n in range(LOOKUPS - 1)]
    assert paused_until(found, NOW) is None


@given(st.text(max_size=30))
def test_cleaning_is_a_fixed_point_without_spaces(text):
    once = clean(text)
    assert clean(once) == once and not any(ch.isspace() for ch in once)
