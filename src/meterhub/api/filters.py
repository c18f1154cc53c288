"""The filters of a list: each query parameter the caller gave narrows the rows; one left out does not."""

from __future__ import annotations


def given(rows, **lookups):
    """`rows` filtered by every lookup whose value is not None (None: the parameter was not sent)."""
    return rows.filter(**{lookup: value for lookup, value in lookups.items() if value is not None})
