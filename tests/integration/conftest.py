"""Fixtures for integration tests: one seeded example database per session, copied per test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests._servers import ServiceFiles, migrated_example_db, service_files

if TYPE_CHECKING:
    from pathlib import Path

#: Token users seeded for the load tests (user000 ... user399).
LOAD_USERS = 400


@pytest.fixture(scope="session")
def example_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_example_db(tmp_path_factory.mktemp("example-db"), users=LOAD_USERS)


@pytest.fixture
def example_files(tmp_path: Path, example_db_template: Path) -> ServiceFiles:
    """A fresh directory for one server run, holding its own copy of the seeded database."""
    return service_files(tmp_path / "service", example_db_template)


@pytest.fixture(scope="session")
def broker_url(tmp_path_factory: pytest.TempPathFactory):  # yields a str
    """A Redis broker URL for Celery (see tests/integration/_broker.py); skips if none."""
    from tests.integration._broker import redis_broker

    with redis_broker(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def go_binaries():  # returns example.backend.Binaries
    """The collector and Jaeger built by collector/build.sh (``make collector``), once a session.

    Without a Go toolchain the tests that use them skip, except under ``CI=true``: they fail.
    """
    import os

    from example.backend import BackendUnavailableError, build_binaries

    try:
        return build_binaries()
    except BackendUnavailableError as error:
        reason = f"the collector and Jaeger cannot be built: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
