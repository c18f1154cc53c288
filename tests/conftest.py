"""Shared fixtures: where the shared test data lives, and the CI rule on skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: on a loaded 2-core CI machine one example of a correct codec can
# take 260 ms, and a timing failure says nothing about correctness (benchmarks measure speed).
settings.register_profile("meterhub", deadline=None)
settings.load_profile("meterhub")

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


# --- database fixtures ---------------------------------------------------------------------

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations():
    from meterhub.i18n import compile_messages

    compile_messages()


@pytest.fixture
def make_operator(db):
    from meterhub.accounts.services import create_operator

    def make(role="operator", username=None, password=PASSWORD):
        return create_operator(username=username or f"{role}-user", role=role, password=password)

    return make


@pytest.fixture
def site(db):
    from meterhub.assets.models import Site

    return Site.objects.create(code="north", name="North Estate", time_zone="Asia/Shanghai", currency="CNY")


@pytest.fixture
def collector(site):
    from meterhub.assets.models import Collector

    return Collector.objects.create(code="DTU-1", site=site, registration_id="REG-1")


@pytest.fixture
def signed_in(client, make_operator):
    """A test client signed in with the given role."""

    def sign_in(role="administrator"):
        user = make_operator(role)
        client.force_login(user)
        return client, user

    return sign_in


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread while a browser is open, and asyncio.run() in later tests would refuse to start."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
