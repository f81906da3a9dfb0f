"""The dispatcher with kubernetes discovery, whose endpoints are real worker processes."""

from __future__ import annotations

import time

from codering_x.localprocs import Procs, call, wait_healthy
from tests.kubernetes.fake_api import FakeKubeAPI, endpoint_slice

SERVICE = "nuclio-codering-python"


def test_runs_go_to_the_pods_the_api_lists(tmp_path, engine):
    api = FakeKubeAPI()
    procs = Procs(tmp=tmp_path)
    try:
        url = api.start()
        workers = [procs.worker(name="python-1"), procs.worker(name="python-2")]
        for i, worker in enumerate(workers, 1):
            port = int(worker.url.rsplit(":", 1)[1])
            api.put(endpoint_slice(f"python-{i}", SERVICE, port, {f"pod-{i}": True}))
        dispatcher = procs.dispatcher_with(
            {
                "discovery": {
                    "kind": "kubernetes",
                    "kubernetes": {"namespace": "nuclio", "runtimes": ["python"], "api_url": url},
                },
                "health": {"interval_s": 0.2},
            }
        )
        wait_healthy(dispatcher.url, 2)
        status, body, _ = call(dispatcher.url, body={"runtime": "py", "code": "print('from a pod')"})
        assert status == 200 and body["run"]["stdout"] == "from a pod\n"
        assert body["meta"]["worker"] in ("python/pod-1", "python/pod-2")

        api.delete("python-1")  # the pod leaves the Service
        deadline = time.monotonic() + 10
        while call(dispatcher.url, "/v1/runtimes")[1]["runtimes"][0]["healthy_workers"] != 1:
            assert time.monotonic() < deadline, "the removed endpoint is still in the pool"
            time.sleep(0.05)
        winners = {
            call(dispatcher.url, body={"runtime": "python", "code": "print(1)"})[1]["meta"]["worker"] for _ in range(8)
        }
        assert winners == {"python/pod-2"}
        assert call(dispatcher.url, "/readyz")[0] == 503  # one pod is not two
    finally:
        procs.stop_all()
        api.stop()
