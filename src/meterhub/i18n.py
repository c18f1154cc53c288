"""Compiling the translation catalogues (.po -> .mo) without GNU gettext.

The .mo files are build products (not in git); `meterhub web`, `demo` and the test
suite compile any that are missing or older than their .po.
"""

from __future__ import annotations

from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def compile_messages(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    written = []
    for po_path in locale_dir.glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written
