"""deploy/dispatcher.Dockerfile: builds, runs as a non-root user on a read-only root, serves."""

from __future__ import annotations

import time

from codering_x.images import ROOT, extra_ca_certs
from codering_x.localprocs import call


def test_dispatcher_image_serves_unprivileged(docker):
    tag = "codering-x/dispatcher:test"
    for chunk in docker.api.build(
        path=str(ROOT), dockerfile="deploy/dispatcher.Dockerfile", tag=tag, rm=True, forcerm=True, decode=True,
        buildargs={"EXTRA_CA_CERTS": extra_ca_certs()},
    ):  # fmt: skip
        assert "error" not in chunk, chunk
    environment = {
        "CODERING_HOST": "0.0.0.0",
        "CODERING_DISCOVERY__KIND": "kubernetes",
        "CODERING_DISCOVERY__KUBERNETES__API_URL": "http://127.0.0.1:9",  # no API server: it backs off
    }
    container = docker.containers.run(
        tag, ["serve"], detach=True, read_only=True, environment=environment, cap_drop=["ALL"],
        security_opt=["no-new-privileges"], ports={"8000/tcp": ("127.0.0.1", None)},
    )  # fmt: skip
    try:
        container.reload()
        url = f"http://127.0.0.1:{container.attrs['NetworkSettings']['Ports']['8000/tcp'][0]['HostPort']}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status = call(url, "/healthz", timeout=2)[0]
                break
            except OSError:
                assert time.monotonic() < deadline, container.logs().decode()[-2000:]
                time.sleep(0.3)
        assert status == 200
        assert call(url, "/readyz")[0] == 503  # no function pods discovered
        assert docker.api.exec_create(container.id, "id -u")["Id"]
        uid = container.exec_run("id -u").output.decode().strip()
        assert uid == "10001"
    finally:
        container.remove(force=True)
