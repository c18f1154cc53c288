"""Communication records: collector link history and state, per-meter communication status."""
