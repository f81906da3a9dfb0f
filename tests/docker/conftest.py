"""Docker fixtures: a real engine, and every runtime image built once per test session.

A missing engine is a failure, never a skip: `make test` starts one first (`make engine`).
"""

from __future__ import annotations

import pytest

from codering_x.catalogue import Catalogue
from codering_x.images import DockerUnavailable, build, docker_client


@pytest.fixture(scope="session")
def docker():
    try:
        return docker_client()
    except DockerUnavailable as exc:
        pytest.fail(f"no Docker engine: run `make engine` (or start dockerd): {exc}")


@pytest.fixture(scope="session")
def images(docker) -> dict[str, str]:
    """runtime name → image tag, built (or found up to date in the layer cache) once."""
    return build(Catalogue.load().runtimes.values(), client=docker)
