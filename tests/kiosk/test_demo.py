"""`make demo` has a terminal to pair with the key docs/kiosk.md gives, at which the demo
household's account is found."""

from __future__ import annotations

import pytest

from meterhub.assets.demo import SITE_CODE, load_demo_site
from meterhub.kiosk import lookup, pairing
from meterhub.kiosk.demo import CODE, DEMO_KEY, load_demo_terminal
from meterhub.kiosk.models import Terminal
from meterhub.portal.demo import load_demo_portal

pytestmark = pytest.mark.django_db


def test_the_demo_terminal_pairs_with_the_documented_key_and_finds_the_household():
    load_demo_site()
    household = load_demo_portal(SITE_CODE)
    terminal = load_demo_terminal(SITE_CODE)
    assert pairing.pair(CODE, DEMO_KEY) == terminal and terminal.enabled
    assert lookup.look_up(terminal, household.accounts[0]).account.customer.name == household.name
    assert load_demo_terminal(SITE_CODE) == terminal and Terminal.objects.count() == 1


def test_no_demo_site_no_terminal(db):
    assert load_demo_terminal("nowhere") is None
