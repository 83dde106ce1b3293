"""The deployment files under ``deploy/``, checked offline: Kubernetes manifests against the
API schemas of a current Kubernetes version, the compose file's structure, and the
configuration and sample bucket they ship loaded by the registry itself."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from package_registry.config import load_settings
from tests.conftest import ROOT, start_registry, stop

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
MANIFESTS = sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
SAMPLE_BUCKET = DEPLOY / "storage" / "fake-package-storage-internal"
LABELS = {"app.kubernetes.io/name": "package-registry"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def by_kind() -> dict[str, dict]:
    return {(doc := load(path))["kind"]: doc for path in MANIFESTS}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifest_is_valid_for_a_current_kubernetes(path: Path) -> None:
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(load(path), version, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = load(KUBERNETES / "kustomization.yaml")["resources"]
    assert sorted(listed) == [path.name for path in MANIFESTS]


def test_deployment_is_probed_on_health_and_runs_locked_down() -> None:
    manifests = by_kind()
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    # The only writable place, for zipped folder packages and metrics files.
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_service_budget_and_autoscaler_select_the_deployment() -> None:
    manifests = by_kind()
    deployment = manifests["Deployment"]
    assert deployment["spec"]["selector"]["matchLabels"] == LABELS
    assert deployment["spec"]["template"]["metadata"]["labels"] == LABELS
    assert manifests["Service"]["spec"]["selector"] == LABELS
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == LABELS
    target = manifests["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    budget = manifests["PodDisruptionBudget"]["spec"]["minAvailable"]
    assert manifests["HorizontalPodAutoscaler"]["spec"]["minReplicas"] > budget


@pytest.mark.parametrize(
    "config",
    [
        DEPLOY / "config.docker.yml",
        yaml.safe_load((KUBERNETES / "configmap.yaml").read_text())["data"]["config.yml"],
    ],
    ids=["image", "configmap"],
)
def test_shipped_configurations_load(config: Path | str, tmp_path: Path) -> None:
    if isinstance(config, str):
        (tmp_path / "config.yml").write_text(config)
        config = tmp_path / "config.yml"
    settings = load_settings([f"-config={config}"], {})
    assert settings.package_paths == ("/packages/package-registry",)


def test_compose_services_and_profiles() -> None:
    compose = load(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert "profiles" not in services["registry"]
    assert services["gcs"]["profiles"] == services["registry-storage"]["profiles"] == ["storage"]
    # Every bind-mounted folder exists beside the compose file.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", volume).split(":")[0]
            assert (DEPLOY / source).is_dir(), volume
    # The two registries can run together.
    published = [port.split(":")[0] for s in services.values() for port in s.get("ports", [])]
    assert len(set(published)) == len(published)
    flags = services["registry-storage"]["command"]
    assert "-storage-indexer-bucket-internal=gs://fake-package-storage-internal" in flags
    assert SAMPLE_BUCKET.is_dir()


def test_sample_bucket_index_is_served_by_the_storage_indexer(tmp_path: Path) -> None:
    metadata = SAMPLE_BUCKET / "v2" / "metadata"
    cursor = yaml.safe_load((metadata / "cursor.json").read_text())["current"]
    index = metadata / cursor / "search-index-all.json"
    (tmp_path / "config.yml").write_text("package_paths: []\n")
    server = start_registry(
        ["-config=config.yml", "-feature-storage-indexer", "-workers=1"],
        cwd=tmp_path,
        env={"EPR_EMULATOR_INDEX_PATH": str(index)},
    )
    try:
        names = {item["name"] for item in server.get("/search?all=true").json()}
    finally:
        stop(server)
    assert {"sample_logs", "sample_metrics"} <= names
