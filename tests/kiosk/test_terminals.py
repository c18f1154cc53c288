"""The terminal register: keys shown once and stored hashed, pairing with its lock, enable and
disable, online status from heartbeats, everything audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from meterhub.accounts.models import AuditEntry
from meterhub.kiosk import keys, pairing, terminals
from meterhub.kiosk.models import Terminal
from tests.kiosk.conftest import paired_cookie

# --- keys -----------------------------------------------------------------------------------

def test_a_new_key_is_twenty_symbols_in_groups_of_four_and_never_repeats():
    made = {keys.new_key() for _ in range(200)}
    assert len(made) == 200
    for key in made:
        groups = key.split("-")
        assert [len(g) for g in groups] == [4] * 5
        assert set("".join(groups)) <= set(keys.ALPHABET)


@given(st.text(alphabet=keys.ALPHABET, min_size=keys.SYMBOLS, max_size=keys.SYMBOLS),
       st.lists(st.sampled_from([" ", "-", ""]), min_size=keys.SYMBOLS, max_size=keys.SYMBOLS),
       st.booleans())
def test_a_key_matches_however_it_is_typed(symbols, separators, lower):
    stored = keys.digest(symbols)
    typed = "".join(ch + sep for ch, sep in zip(symbols, separators, strict=True))
    typed = typed.lower() if lower else typed
    assert keys.matches(typed, stored)
    assert keys.matches(typed.replace("0", "O").replace("1", "I"), stored)  # read as Crockford reads them


@given(st.text(max_size=30))
def test_only_the_key_itself_matches(typed):
    key = "7KQ2-M9XD-4HJW-ZT8R-C3NP"
    assert keys.matches(typed, keys.digest(key)) == (keys.normalise(typed) == keys.normalise(key))


# --- register, rotate, enable ---------------------------------------------------------------

def test_registering_shows_the_key_once_and_stores_only_its_hash(issued):
    terminal = Terminal.objects.get(pk=issued.terminal.pk)
    assert terminal.key_hash == keys.digest(issued.key) and issued.key not in terminal.key_hash
    entry = AuditEntry.objects.get(action="create", object_type="terminal")
    assert entry.changes["key_hash"] == ["***", "***"] and entry.actor_name == "registrar"


def test_registering_an_existing_terminal_is_refused(terminal, make_operator):
    with pytest.raises(ValueError):
        terminals.register(terminal, actor=None)


def test_rotating_the_key_unpairs_devices_paired_with_the_old_one(issued, rf):
    request = rf.get("/kiosk/")
    request.COOKIES[pairing.COOKIE] = paired_cookie(issued.terminal)
    assert pairing.paired_terminal(request) == issued.terminal
    rotated = terminals.rotate_key(issued.terminal, actor=None)
    assert rotated.key != issued.key
    assert pairing.paired_terminal(request) is None
    assert pairing.pair(issued.terminal.code, rotated.key) == issued.terminal
    with pytest.raises(pairing.PairingError):
        pairing.pair(issued.terminal.code, issued.key)
    assert AuditEntry.objects.filter(action="terminal_key", object_id=str(issued.terminal.pk)).count() == 1


def test_disabling_and_enabling_are_audited_once_each(terminal):
    terminals.set_enabled(terminal, False, actor=None)
    terminals.set_enabled(terminal, False, actor=None)
    assert not Terminal.objects.get(pk=terminal.pk).enabled
    terminals.set_enabled(terminal, True, actor=None)
    assert [e.action for e in AuditEntry.objects.filter(object_type="terminal").order_by("id")] == [
        "create", "terminal_disable", "terminal_enable"]


def test_online_offline_and_disabled(terminal, settings):
    settings.KIOSK_ONLINE_WITHIN_S = 60
    now = timezone.now()
    assert terminals.state_of(terminal, now) == terminals.OFFLINE  # never seen
    terminals.heartbeat(terminal, ip="10.0.0.7", version="0.1.0", now=now)
    seen = Terminal.objects.get(pk=terminal.pk)
    assert (seen.last_seen_at, seen.last_seen_ip, seen.app_version) == (now, "10.0.0.7", "0.1.0")
    assert terminals.state_of(seen, now + timedelta(seconds=60)) == terminals.ONLINE
    assert terminals.state_of(seen, now + timedelta(seconds=61)) == terminals.OFFLINE
    seen.enabled = False
    assert terminals.state_of(seen, now) == terminals.DISABLED


# --- pairing --------------------------------------------------------------------------------

def test_pairing_takes_the_code_in_any_case_and_the_key_as_typed(issued):
    assert pairing.pair("lobby-1", issued.key.lower().replace("-", " ")) == issued.terminal
    assert Terminal.objects.get(pk=issued.terminal.pk).paired_at is not None
    assert AuditEntry.objects.filter(action="kiosk.pair", actor_name="kiosk").count() == 1


def test_an_unknown_code_gets_the_same_answer_as_a_wrong_key(issued):
    with pytest.raises(pairing.PairingError) as unknown:
        pairing.pair("NOPE", issued.key)
    with pytest.raises(pairing.PairingError) as wrong:
        pairing.pair(issued.terminal.code, keys.new_key())
    assert str(unknown.value) == str(wrong.value)
    refused = AuditEntry.objects.filter(action="kiosk.pair_refused").order_by("id")
    assert [(e.object_type, e.object_repr, e.changes["reason"][1]) for e in refused] == [
        ("terminal", "NOPE", "unknown"), ("terminal", str(issued.terminal), "wrong key")]


def test_empty_code_or_key_is_refused_with_a_clear_message(issued):
    with pytest.raises(pairing.PairingError, match="Enter the terminal code and its key"):
        pairing.pair(issued.terminal.code, "  ")


def test_five_wrong_keys_lock_pairing_for_fifteen_minutes_even_with_the_right_key(issued):
    now = timezone.now()
    for _ in range(pairing.FAILURES - 1):
        with pytest.raises(pairing.PairingError, match="do not belong together"):
            pairing.pair(issued.terminal.code, keys.new_key(), now=now)
    with pytest.raises(pairing.PairingError, match="Too many wrong keys"):
        pairing.pair(issued.terminal.code, keys.new_key(), now=now)
    with pytest.raises(pairing.PairingError, match="Too many wrong keys"):
        pairing.pair(issued.terminal.code, issued.key, now=now + pairing.LOCK - timedelta(seconds=1))
    assert pairing.pair(issued.terminal.code, issued.key, now=now + pairing.LOCK) == issued.terminal


def test_a_forged_or_edited_cookie_pairs_nothing(issued):
    request = RequestFactory().get("/kiosk/")
    request.COOKIES[pairing.COOKIE] = pairing.cookie_value(issued.terminal)  # not signed
    assert pairing.paired_terminal(request) is None
    signed = paired_cookie(issued.terminal)
    request.COOKIES[pairing.COOKIE] = signed.replace(f"{issued.terminal.pk}:", f"{issued.terminal.pk + 1}:", 1)
    assert pairing.paired_terminal(request) is None
    request.COOKIES[pairing.COOKIE] = signed
    assert pairing.paired_terminal(request) == issued.terminal
