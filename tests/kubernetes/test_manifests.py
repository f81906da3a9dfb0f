"""deploy/: the Kubernetes manifests validate against the real schemas, offline, and say what
ops rely on; the nuctl invocations use only flags that Nuclio 1.14's nuctl has.

kustomize is not installed here, so `render()` does what this kustomization.yaml asks of
it (resources in order, `labels` without selectors, `images`), and the output is checked
as kubectl would receive it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from codering_x.dispatcher.config import Settings

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
K8S_VERSION = "1.31.0"


def render(directory: Path) -> list[dict]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((directory / resource).read_text()) if d]
    for entry in kustomization.get("labels", []):
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(entry["pairs"])
    for image in kustomization.get("images", []):
        for doc in docs:
            for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    return docs


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in render(KUBE)}


def test_every_rendered_document_validates_against_the_kubernetes_schema(docs):
    for doc in docs.values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_rejects_a_wrong_field(docs):
    broken = yaml.safe_load(yaml.safe_dump(docs["Deployment/codering-dispatcher"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_example_ingress_validates_too():
    kubernetes_validate.validate(yaml.safe_load((KUBE / "ingress.example.yaml").read_text()), K8S_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest_once():
    listed = yaml.safe_load((KUBE / "kustomization.yaml").read_text())["resources"]
    on_disk = sorted(
        p.name for p in KUBE.glob("*.yaml") if p.name not in ("kustomization.yaml", "ingress.example.yaml")
    )
    assert sorted(listed) == on_disk and len(set(listed)) == len(listed)


def test_the_dispatcher_runs_unprivileged_with_probes(docs):
    pod = docs["Deployment/codering-dispatcher"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["serviceAccountName"] == "codering-dispatcher"


def test_rbac_allows_only_list_and_watch_of_endpointslices_in_the_functions_namespace(docs):
    config = yaml.safe_load(docs["ConfigMap/codering-dispatcher"]["data"]["config.yaml"])
    functions_namespace = config["discovery"]["kubernetes"]["namespace"]
    role = docs["Role/codering-dispatcher-endpoints"]
    assert role["metadata"]["namespace"] == functions_namespace
    assert role["rules"] == [
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}
    ]
    binding = docs["RoleBinding/codering-dispatcher-endpoints"]
    assert binding["metadata"]["namespace"] == functions_namespace
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "codering-dispatcher", "namespace": "codering-x"}]


def test_the_configmap_is_a_valid_dispatcher_configuration(docs):
    settings = Settings(**yaml.safe_load(docs["ConfigMap/codering-dispatcher"]["data"]["config.yaml"]))
    assert settings.discovery.kind == "kubernetes" and settings.host == "0.0.0.0"
    assert settings.playground is False  # the cluster's ingress exposes the API only (the comment says why)


def test_pdb_and_hpa_target_the_dispatcher(docs):
    selector = docs["Deployment/codering-dispatcher"]["spec"]["selector"]["matchLabels"]
    assert docs["PodDisruptionBudget/codering-dispatcher"]["spec"]["selector"]["matchLabels"] == selector
    assert docs["Service/codering-dispatcher"]["spec"]["selector"] == selector
    hpa = docs["HorizontalPodAutoscaler/codering-dispatcher"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "codering-dispatcher" and hpa["minReplicas"] >= 2


# Flags of Nuclio 1.14's nuctl (pkg/nuctl/command: root persistent flags, deploy.go and
# build.go, create.go's project command), as ../shared/reference/nuclio.md lists them.
NUCTL_FLAGS = {
    "deploy": {"--path", "--platform", "--namespace", "--project-name", "--registry", "--run-registry", "--file",
               "--image", "--base-image", "--no-pull", "--replicas", "--min-replicas", "--max-replicas"},
    "create project": {"--platform", "--namespace", "--description", "--owner"},
}  # fmt: skip


def test_the_nuctl_invocations_use_real_flags():
    makefile = (ROOT / "deploy" / "nuclio" / "Makefile").read_text().replace("\\\n", " ")
    calls = re.findall(r"\$\(NUCTL\) (deploy|create project) ([^\n;|]*)", makefile)
    assert {c[0] for c in calls} == {"deploy", "create project"}
    for command, rest in calls:
        flags = set(re.findall(r"(--[a-z-]+)", rest))
        assert flags <= NUCTL_FLAGS[command], (command, flags - NUCTL_FLAGS[command])
    deploys = [rest for command, rest in calls if command == "deploy"]
    assert any("--platform kube" in d and "--run-registry" in d for d in deploys)
    assert any("--platform local" in d and "--registry" not in d for d in deploys)  # local has no registry


def test_kube_deploy_points_the_sessions_sidecar_at_the_run_registry(tmp_path):
    """A node pulls the sidecar's image as written: the Makefile gives it the registry that
    `images` pushed the runtime images to, and changes nothing else of function.yaml."""
    out = subprocess.run(
        ["make", "-s", "-f", "deploy/nuclio/Makefile", "deploy", "NUCTL=echo", "RUNTIMES=python",
         "REGISTRY=push.example.com/c", "RUN_REGISTRY=pull.example.com/c", f"OUT={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"--file {tmp_path}/python.yaml" in out
    committed = yaml.safe_load((ROOT / "functions" / "python" / "function.yaml").read_text())
    deployed = yaml.safe_load((tmp_path / "python.yaml").read_text())
    image = committed["spec"]["sidecars"][0]["image"]
    assert deployed["spec"]["sidecars"][0]["image"] == f"pull.example.com/c/{image}"
    deployed["spec"]["sidecars"][0]["image"] = image
    assert deployed == committed
