"""Shared fixtures: where the shared test data lives, and the CI rule on skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str):
    """Skip on a developer's machine; under CI=true a missing prerequisite is a failure."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def testdata_dir() -> Path:
    """../shared/testdata beside the checkout, or $METERHUB_TESTDATA."""
    path = Path(os.environ.get("METERHUB_TESTDATA", REPO.parent / "shared" / "testdata"))
    if not path.is_dir():
        skip_or_fail(
            f"shared test data not found at {path}: set METERHUB_TESTDATA to the "
            "folder holding dlt645/, mbus-libmbus/ and glow/"
        )
    return path
