"""Settings > Self-service terminals: register (key shown once), edit, take out of service, new
key, and the list with each terminal's online status."""

from __future__ import annotations

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from meterhub.accounts.models import AuditEntry
from meterhub.kiosk import keys, pairing, terminals
from meterhub.kiosk.models import Terminal


def shown_key(page: str) -> str:
    return re.search(r'id="terminal-key">([0-9A-Z-]+)<', page).group(1)


def test_registering_shows_the_key_once(signed_in, site):
    client, admin = signed_in("administrator")
    page = client.post(reverse("terminal-new"), {"code": "HALL-2", "name": "Hall", "site": site.pk,
                                                 "location": "Building 2 entrance", "language": "zh-hans"})
    assert page.status_code == 200
    key = shown_key(page.content.decode())
    terminal = Terminal.objects.get(code="HALL-2")
    assert terminal.key_hash == keys.digest(key)
    assert pairing.pair("HALL-2", key) == terminal
    detail = client.get(reverse("terminal-detail", kwargs={"pk": terminal.pk})).content.decode()
    assert key not in detail and terminal.key_hash not in detail


def test_a_code_in_use_or_with_spaces_is_refused(signed_in, terminal, site):
    client, _admin = signed_in("administrator")
    for code in ("LOBBY-1", "two words"):
        page = client.post(reverse("terminal-new"), {"code": code, "name": "x", "site": site.pk, "language": "en"})
        assert page.status_code == 200 and 'id="terminal-key"' not in page.content.decode()
    assert Terminal.objects.count() == 1


def test_editing_keeps_the_code_and_audits_the_change(signed_in, terminal, site):
    client, _admin = signed_in("operator")
    response = client.post(reverse("terminal-edit", kwargs={"pk": terminal.pk}), {
        "code": "RENAMED", "name": "Lobby left", "site": site.pk, "location": "By the door", "language": "en"})
    assert response.status_code == 302
    terminal.refresh_from_db()
    assert (terminal.code, terminal.name, terminal.location) == ("LOBBY-1", "Lobby left", "By the door")
    entry = AuditEntry.objects.get(action="update", object_type="terminal")
    assert entry.changes["name"] == ["Lobby", "Lobby left"] and "code" not in entry.changes


def test_taking_out_of_service_and_back(signed_in, terminal):
    client, _admin = signed_in("operator")
    client.post(reverse("terminal-disable", kwargs={"pk": terminal.pk}))
    assert not Terminal.objects.get(pk=terminal.pk).enabled
    page = client.get(reverse("terminal-list")).content.decode()
    assert re.search(r'data-terminal="LOBBY-1".*?data-state="disabled"', page, re.S)
    client.post(reverse("terminal-enable", kwargs={"pk": terminal.pk}))
    assert Terminal.objects.get(pk=terminal.pk).enabled
    assert list(AuditEntry.objects.filter(object_type="terminal", actor_name="operator-user")
                .order_by("id").values_list("action", flat=True)) == ["terminal_disable", "terminal_enable"]


def test_a_new_key_replaces_the_old_one(signed_in, issued):
    client, _admin = signed_in("administrator")
    page = client.post(reverse("terminal-rotate-key", kwargs={"pk": issued.terminal.pk})).content.decode()
    new_key = shown_key(page)
    assert new_key != issued.key
    assert pairing.pair("LOBBY-1", new_key) == issued.terminal


def test_the_list_says_online_offline_or_never_seen(signed_in, terminal, site):
    client, _user = signed_in("readonly")
    other = terminals.register(Terminal(code="HALL-2", name="Hall", site=site), actor=None).terminal
    terminals.heartbeat(terminal, ip="10.1.2.3", version="0.1.0")
    terminals.heartbeat(other, ip="10.1.2.4", version="0.0.9", now=timezone.now() - timedelta(minutes=5))
    page = client.get(reverse("terminal-list")).content.decode()
    assert re.search(r'data-terminal="LOBBY-1".*?data-state="online".*?10\.1\.2\.3.*?0\.1\.0', page, re.S)
    assert re.search(r'data-terminal="HALL-2".*?data-state="offline".*?10\.1\.2\.4', page, re.S)
    assert 'id="terminal-new"' not in page  # read-only: no register button


def test_the_terminal_page_counts_today(signed_in, terminal):
    from meterhub.kiosk.models import Lookup

    client, _admin = signed_in("administrator")
    Lookup.objects.create(terminal=terminal, typed="C-1", by="account")
    Lookup.objects.create(terminal=terminal, typed="X", by="")
    Lookup.objects.create(terminal=terminal, typed="Y", refused=True)
    page = client.get(reverse("terminal-detail", kwargs={"pk": terminal.pk})).content.decode()
    today = re.search(r'id="terminal-today">(.*?)</dl>', page, re.S).group(1)
    assert re.findall(r"<dd>([^<]*)</dd>", today) == ["2", "1", "1", "CNY 0.00"]
