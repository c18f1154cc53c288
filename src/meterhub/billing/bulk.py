"""Inserting many rows at once: COPY on PostgreSQL (no model instances, no per-row SQL),
Django's bulk_create elsewhere. Used by the bill run for bills, their lines and entries."""

from __future__ import annotations

import json

from django.db import connection, models


def insert(model: type[models.Model], rows: list[dict], *, return_ids: bool = False) -> list[int]:
    """Insert `rows` (field attname -> value); with `return_ids`, the new primary keys in order."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        made = model.objects.bulk_create([model(**row) for row in rows], batch_size=2000)
        return [m.pk for m in made] if return_ids else []
    table = model._meta.db_table
    ids: list[int] = []
    if return_ids:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
                           [len(rows)])
            ids = [r[0] for r in cursor.fetchall()]
        rows = [{"id": i, **row} for i, row in zip(ids, rows, strict=True)]
    columns = list(rows[0])
    json_columns = {f.attname for f in model._meta.concrete_fields if isinstance(f, models.JSONField)}
    with connection.cursor() as cursor, connection.wrap_database_errors:  # COPY bypasses Django's error mapping
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
    return ids
