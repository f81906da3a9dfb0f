"""Docker fixtures: a real engine, and every runtime image built once per test session.

In CI (CI=true) a missing engine is a failure; on a developer's machine without Docker
these tests are reported as skipped, never as passed.
"""

from __future__ import annotations

import os

import pytest

from codering_x.catalogue import Catalogue
from codering_x.images import DockerUnavailable, build, docker_client


@pytest.fixture(scope="session")
def docker():
    try:
        return docker_client()
    except DockerUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must provide a Docker engine (.ci/docker-engine): {exc}")
        pytest.skip(f"no Docker engine here: {exc}")


@pytest.fixture(scope="session")
def images(docker) -> dict[str, str]:
    """runtime name → image tag, built (or found up to date in the layer cache) once."""
    return build(Catalogue.load().runtimes.values(), client=docker)
