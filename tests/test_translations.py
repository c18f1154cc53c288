"""The Simplified Chinese catalogue: complete, well-formed, and one word for each concept."""

import re

import polib
import pytest

from meterhub.i18n import LOCALE_DIR

CATALOGUE = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module")
def entries():
    return [e for e in polib.pofile(str(CATALOGUE)) if not e.obsolete]


def test_every_message_is_translated_and_none_is_fuzzy(entries):
    assert [e.msgid for e in entries if not e.translated()] == []


def test_placeholders_survive_translation(entries):
    def placeholders(text):
        return sorted(re.findall(r"%\([a-z_]+\)[sd]|\{[a-z_]*\}", text))

    wrong = [e.msgid for e in entries if not e.msgid_plural and placeholders(e.msgid) != placeholders(e.msgstr)]
    assert wrong == []


# a meter seal is 封印 (the State Grid's term, as in 电能计量封印), never 铅封 beside it
@pytest.mark.parametrize("word,instead", [("铅封", "封印")])
def test_one_word_for_a_seal(entries, word, instead):
    assert [e.msgid for e in entries if word in e.msgstr] == [], f"use {instead}"
