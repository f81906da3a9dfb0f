"""functions/<runtime>/function.yaml: valid for Nuclio 1.14, and exactly what the catalogue renders."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from codering_x import functions, images
from codering_x.catalogue import Catalogue
from codering_x.settings import WorkerSettings
from tests.conftest import ALL_RUNTIMES

ROOT = Path(__file__).resolve().parent.parent
# pkg/processor/build/builder.go initializeSupportedRuntimes (Nuclio 1.14)
NUCLIO_RUNTIMES = {"python", "python:3.9", "python:3.10", "python:3.11", "golang", "nodejs", "java", "ruby", "shell"}
HANDLER = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")  # _nuclio_wrapper.py _load_entrypoint_from_handler
GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
SPEC_FIELDS = {  # pkg/functionconfig/types.go Spec fields this project uses
    "description", "runtime", "handler", "eventTimeout", "readinessTimeoutSeconds", "env", "resources",
    "minReplicas", "maxReplicas", "replicas", "triggers", "platform", "build", "securityContext", "volumes",
    "sidecars",
}  # fmt: skip
TRIGGER_FIELDS = {"kind", "name", "numWorkers", "workerAvailabilityTimeoutMilliseconds", "attributes", "annotations"}
HTTP_ATTRIBUTES = {"port", "serviceType", "readBufferSize", "maxRequestBodySize", "cors", "mode", "ingresses"}
RESTART_POLICIES = {"no", "always", "unless-stopped", "on-failure"}
# pkg/platform/kube/platform.go validateContainerPorts: a sidecar may not take these
NUCLIO_RESERVED_PORTS = {8080, 8081, 8082, 8090}  # http, web admin, health check, metrics
NUCLIO_RESERVED_PORT_NAMES = {"http", "metrics"}
K8S_VERSION = "1.31.0"


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_committed_function_yaml_is_what_the_catalogue_renders(runtime):
    committed = (ROOT / "functions" / runtime / "function.yaml").read_text()
    assert committed == functions.render(Catalogue.load().get(runtime)), "run `codering-x functions render`"


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_committed_dockerfile_is_what_the_catalogue_renders(runtime):
    committed = (ROOT / "runtimes" / runtime / "Dockerfile").read_text()
    assert committed == images.render(Catalogue.load().get(runtime)), "run `codering-x images render`"


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_function_yaml_is_valid_for_nuclio_1_14(runtime):
    config = yaml.safe_load((ROOT / "functions" / runtime / "function.yaml").read_text())
    assert set(config) <= {"apiVersion", "kind", "metadata", "spec"}
    meta, spec = config["metadata"], config["spec"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]) and len(meta["name"]) <= 63
    assert all(isinstance(v, str) for v in meta["labels"].values())
    assert set(spec) <= SPEC_FIELDS, set(spec) - SPEC_FIELDS
    assert spec["runtime"] in NUCLIO_RUNTIMES
    assert HANDLER.match(spec["handler"])
    assert GO_DURATION.match(spec["eventTimeout"])
    assert isinstance(spec["readinessTimeoutSeconds"], int)
    assert {"name": "CODERING_RUNTIME", "value": runtime} in spec["env"]
    assert all(set(e) == {"name", "value"} and isinstance(e["value"], str) for e in spec["env"])
    assert set(spec["resources"]["limits"]) == {"cpu", "memory"}
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
    for name, trigger in spec["triggers"].items():
        assert set(trigger) <= TRIGGER_FIELDS and trigger["kind"] == "http" and trigger.get("name", name) == name
        assert isinstance(trigger["numWorkers"], int) and trigger["numWorkers"] >= 1
        assert set(trigger.get("attributes", {})) <= HTTP_ATTRIBUTES
    policy = spec["platform"]["attributes"]["restartPolicy"]
    assert policy["name"] in RESTART_POLICIES
    assert spec["build"]["noBaseImagesPull"] is True
    assert spec["build"]["baseImage"] == f"codering-x/{runtime}:{functions.__version__}"


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_the_named_handler_and_init_context_are_importable(runtime):
    spec = yaml.safe_load((ROOT / "functions" / runtime / "function.yaml").read_text())["spec"]
    module_name, _, function = spec["handler"].partition(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, function)) and callable(module.init_context)


def test_python_version_matches_the_base_images_cpython():
    """Nuclio's wheels are cp3X-specific: spec.runtime must be the image's CPython."""
    assert all(
        yaml.safe_load((ROOT / "functions" / r / "function.yaml").read_text())["spec"]["runtime"] == "python:3.11"
        for r in ALL_RUNTIMES
    )
    assert "FROM ${BASE}" in images.render(Catalogue.load().get("python"))  # debian:bookworm-slim: CPython 3.11


def uid_range(*envs: dict[str, str]) -> range:
    """The sandbox uids a container gets from its environment, later sources winning."""
    merged = {k: v for env in envs for k, v in env.items()}
    defaults = WorkerSettings.model_fields
    base = int(merged.get("CODERING_UID_BASE", defaults["uid_base"].default))
    return range(base, base + int(merged.get("CODERING_UID_COUNT", defaults["uid_count"].default)))


def env_of(entries: list[dict]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in entries if "value" in e}


def sessions_sidecar_problems(config: dict, image_env: dict[str, str]) -> list[str]:
    """What is wrong with a function.yaml's sessions sidecar. Each container's environment
    is the image's, then spec.env, then (the sidecar's) its own: Nuclio merges spec.env
    into every sidecar, the sidecar's own variables winning (pkg/common MergeEnvSlices)."""
    spec = config["spec"]
    sidecars = [s for s in spec.get("sidecars", []) if s.get("name") == functions.SESSIONS]
    if len(sidecars) != 1:
        return [f"one sidecar named {functions.SESSIONS!r} expected, found {len(sidecars)}"]
    sidecar, problems = sidecars[0], []
    if sidecar.get("image") != spec["build"]["baseImage"]:
        problems.append(f"image {sidecar.get('image')!r} is not the function's {spec['build']['baseImage']!r}")
    if "command" in sidecar:
        problems.append("command replaces the image's entrypoint (tini): use args")
    if "volumeMounts" in sidecar:
        problems.append("Nuclio replaces a sidecar's volumeMounts with the function's")
    # Nuclio names the Service port after the sidecar, the EndpointSlice's after the Service's
    ports = sidecar.get("ports", [])
    if [p.get("name") for p in ports] != [functions.SESSIONS]:
        problems.append(f"one container port named {functions.SESSIONS!r} expected: {ports}")
    for port in ports:
        if port.get("containerPort") in NUCLIO_RESERVED_PORTS or port.get("name") in NUCLIO_RESERVED_PORT_NAMES:
            problems.append(f"port {port} is reserved by Nuclio")
        if port.get("protocol", "TCP") != "TCP":
            problems.append(f"port {port} is not TCP")
    args = sidecar.get("args", [])
    flags = dict(zip(args[2::2], args[3::2], strict=False))  # after `codering-x worker`
    runtime = config["metadata"]["labels"]["codering.runtime"]
    expected = {
        "--runtime": runtime,
        "--host": "0.0.0.0",
        "--port": str(next((p.get("containerPort") for p in ports), None)),
    }
    if args[:2] != ["codering-x", "worker"] or any(flags.get(k) != v for k, v in expected.items()):
        problems.append(f"args {args} do not serve {runtime!r} on the sessions port, every interface")
    probe = sidecar.get("readinessProbe", {}).get("httpGet", {})
    if probe.get("path") != "/healthz" or str(probe.get("port")) not in (functions.SESSIONS, expected["--port"]):
        problems.append(f"readiness probe {probe} is not GET /healthz on the sessions port")
    main = uid_range(image_env, env_of(spec["env"]))
    own = uid_range(image_env, env_of(spec["env"]), env_of(sidecar.get("env", [])))
    if set(main) & set(own):
        problems.append(f"uids {own} overlap the function's {main}")
    return problems


def image_env(runtime: str) -> dict[str, str]:
    """The CODERING_UID_* variables the runtime's Dockerfile sets."""
    dockerfile = images.render(Catalogue.load().get(runtime))
    return dict(re.findall(r"\b(CODERING_UID_(?:BASE|COUNT))=(\d+)", dockerfile))


@pytest.mark.parametrize("runtime", ALL_RUNTIMES)
def test_the_sessions_sidecar_serves_from_the_functions_image_with_its_own_uids(runtime):
    config = yaml.safe_load((ROOT / "functions" / runtime / "function.yaml").read_text())
    assert sessions_sidecar_problems(config, image_env(runtime)) == []
    for sidecar in config["spec"]["sidecars"]:  # each a Kubernetes Container, as Nuclio passes it on
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [sidecar]}}
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


def test_the_sidecar_check_finds_what_would_break():
    config = yaml.safe_load((ROOT / "functions" / "python" / "function.yaml").read_text())
    env = image_env("python")
    assert env == {"CODERING_UID_BASE": "61000"}  # what the function's range falls back to

    def broken(change) -> list[str]:
        copy = yaml.safe_load(yaml.safe_dump(config))
        change(copy["spec"], copy["spec"]["sidecars"][0])
        return sessions_sidecar_problems(copy, env)

    def same_uids(spec, sidecar):
        sidecar["env"] = [e for e in sidecar["env"] if not e["name"].startswith("CODERING_UID")]

    def reserved_port(spec, sidecar):
        sidecar["ports"][0]["containerPort"] = 8081
        sidecar["args"][sidecar["args"].index("--port") + 1] = "8081"

    assert "overlap" in " ".join(broken(same_uids))  # the sidecar would inherit the function's uids
    assert "overlap" in " ".join(broken(lambda spec, sidecar: sidecar["env"][1].update(value="61100")))
    assert "reserved" in " ".join(broken(reserved_port))
    assert "image" in " ".join(broken(lambda spec, sidecar: sidecar.update(image="codering-x/go:0.1.0")))
    assert "port named" in " ".join(broken(lambda spec, sidecar: sidecar["ports"][0].update(name="ws")))
    assert "one sidecar" in " ".join(broken(lambda spec, sidecar: spec.pop("sidecars")))
