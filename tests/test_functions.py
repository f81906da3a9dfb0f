"""functions/<runtime>/function.yaml: valid for Nuclio 1.14, and exactly what the catalogue renders."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from codering_x import functions, images
from codering_x.catalogue import Catalogue
from tests.conftest import ALL_RUNTIMES

ROOT = Path(__file__).resolve().parent.parent
# pkg/processor/build/builder.go initializeSupportedRuntimes (Nuclio 1.14)
NUCLIO_RUNTIMES = {"python", "python:3.9", "python:3.10", "python:3.11", "golang", "nodejs", "java", "ruby", "shell"}
HANDLER = re.compile(r"^([\w|-]+(\.[\w|-]+)*):(\w+)$")  # _nuclio_wrapper.py _load_entrypoint_from_handler
GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
SPEC_FIELDS = {  # pkg/functionconfig/types.go Spec fields this project uses
    "description", "runtime", "handler", "eventTimeout", "readinessTimeoutSeconds", "env", "resources",
    "minReplicas", "maxReplicas", "replicas", "triggers", "platform", "build", "securityContext", "volumes",
}  # fmt: skip
TRIGGER_FIELDS = {"kind", "name", "numWorkers", "workerAvailabilityTimeoutMilliseconds", "attributes", "annotations"}
HTTP_ATTRIBUTES = {"port", "serviceType", "readBufferSize", "maxRequestBodySize", "cors", "mode", "ingresses"}
RESTART_POLICIES = {"no", "always", "unless-stopped", "on-failure"}


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
