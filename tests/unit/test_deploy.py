"""The deployment files: the Dockerfile, the Kubernetes manifest and the compose example.

Checked without Docker or a cluster: the fields Kubernetes and Docker require, labels and ports that refer to
each other, and probe paths, variables and scenarios that the server really has. tests/container/smoke.sh
builds and runs the image itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from mockserver.scenario.load import load_paths
from mockserver.server.app import create_app
from mockserver.server.settings import serve_fields, variable

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes.yaml"
COMPOSE = DEPLOY / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
VARIABLES = {variable(option.name) for option in serve_fields()}


def manifests() -> list[dict[str, Any]]:
    documents = [doc for doc in yaml.safe_load_all(KUBERNETES.read_text()) if doc is not None]
    assert documents
    return documents


def one(kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in manifests() if doc["kind"] == kind]
    return found


def pod_spec() -> dict[str, Any]:
    return one("Deployment")["spec"]["template"]["spec"]


def container() -> dict[str, Any]:
    (only,) = pod_spec()["containers"]
    return only


def get_paths() -> set[str]:
    """The paths the server answers GET on."""
    return {route.resource.canonical for route in create_app().router.routes() if route.method == "GET"}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, arguments = line.strip().partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def test_every_kubernetes_document_has_the_required_fields() -> None:
    for doc in manifests():
        assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], doc
        assert isinstance(doc.get("kind"), str) and doc["kind"], doc
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), doc["metadata"]
    assert {doc["kind"] for doc in manifests()} >= {"Deployment", "Service"}


def test_the_deployment_selects_its_own_pods_and_runs_several() -> None:
    deployment = one("Deployment")
    assert deployment["apiVersion"] == "apps/v1"
    spec = deployment["spec"]
    match_labels = spec["selector"]["matchLabels"]
    assert match_labels
    assert match_labels == spec["template"]["metadata"]["labels"]
    assert spec["replicas"] > 1


def test_the_container_names_its_image_and_the_port_the_image_exposes() -> None:
    main = container()
    assert main["name"]
    assert main["image"]
    ports = main["ports"]
    assert [port["containerPort"] for port in ports] == [8000]
    assert all(isinstance(port["containerPort"], int) for port in ports)
    assert ("EXPOSE", "8000") in dockerfile_instructions()


def resolve_port(port: int | str) -> int:
    """A container port given by number or by name."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container()["ports"] if p.get("name") == port]
    return number


def test_the_service_reaches_the_deployments_pods_on_the_container_port() -> None:
    service = one("Service")
    pod_labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert selector
    assert selector.items() <= pod_labels.items()
    ports = service["spec"]["ports"]
    assert ports
    for port in ports:
        assert isinstance(port["port"], int)
        assert resolve_port(port["targetPort"]) == 8000


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_probes_ask_a_path_the_server_answers(probe: str) -> None:
    check = container()[probe]["httpGet"]
    assert check["path"] == "/_mock/health"
    assert check["path"] in get_paths()
    assert resolve_port(check["port"]) == 8000


def test_the_pod_runs_as_non_root_with_resources() -> None:
    pod_security = pod_spec()["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security.get("runAsUser", 10001) != 0
    security = container()["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container()["resources"]["requests"]


def test_the_kubernetes_scenarios_load_and_the_variables_exist(tmp_path: Path) -> None:
    assert {item["name"] for item in container().get("env", [])} <= VARIABLES
    env = {item["name"]: item["value"] for item in container().get("env", []) if "value" in item}
    config_maps = {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == "ConfigMap"}
    mounts = {mount["name"]: mount["mountPath"] for mount in container().get("volumeMounts", [])}
    for volume in pod_spec().get("volumes", []):
        data = config_maps[volume["configMap"]["name"]]["data"]
        for key, text in data.items():
            (tmp_path / key).write_text(text)
            served = env["MOCKSERVER_SCENARIOS"].split(":")
            mount = mounts[volume["name"]]
            assert f"{mount}/{key}" in served or mount in served, f"{key} of the ConfigMap is not served"
    assert any(tmp_path.iterdir()), "the manifest mounts no scenarios"
    result = load_paths([tmp_path])
    assert not result.problems, "\n".join(map(str, result.problems))


def test_the_control_api_is_closed_by_a_token_from_a_secret() -> None:
    """The server listens on every address of the pod: the shipped manifest must not leave the control API
    open, nor ship a token everyone knows."""
    (token,) = [item for item in container()["env"] if item["name"] == "MOCKSERVER_ADMIN_TOKEN"]
    assert "value" not in token
    reference = token["valueFrom"]["secretKeyRef"]
    assert reference["name"] and reference["key"]
    assert reference.get("optional", False) is False  # no Secret, no pod: never an open control API
    assert not [doc for doc in manifests() if doc["kind"] == "Secret"], "a shipped Secret would be a known token"
    assert f"kubectl create secret generic {reference['name']} --from-literal={reference['key']}=" in (
        KUBERNETES.read_text()
    )


def test_the_memory_limit_holds_what_the_guide_says() -> None:
    resources = container()["resources"]
    assert resources["limits"]["memory"] == "512Mi"
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert "512 MiB" in guide and "MOCKSERVER_JOURNAL_BYTES" in guide


def test_the_compose_example_runs_the_image_next_to_an_app() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    mockserver = services["mockserver"]
    assert (COMPOSE.parent / mockserver["build"] / "Dockerfile").is_file()
    assert set(mockserver.get("environment", {})) <= VARIABLES
    assert any(volume.endswith(":/scenarios:ro") for volume in mockserver["volumes"])
    app = services["app"]
    assert app["environment"]["OPENAI_BASE_URL"] == "http://mockserver:8000/v1"
    assert app["depends_on"]["mockserver"]["condition"] == "service_healthy"


def test_the_dockerfile_builds_without_a_registry_frontend_from_a_chosen_base() -> None:
    text = DOCKERFILE.read_text()
    assert not re.search(r"(?im)^\s*#\s*syntax\s*=", text), "a # syntax= line makes BuildKit fetch a frontend image"
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "ARG" and instructions[0][1].startswith("BASE_IMAGE=")
    assert ("FROM", "${BASE_IMAGE}") in instructions


def test_the_dockerfile_runs_as_non_root_binds_everywhere_and_checks_health() -> None:
    instructions = dockerfile_instructions()
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users, "no USER: the server would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    env = " ".join(arguments for instruction, arguments in instructions if instruction == "ENV")
    assert "MOCKSERVER_HOST=0.0.0.0" in env.split()
    (healthcheck,) = [arguments for instruction, arguments in instructions if instruction == "HEALTHCHECK"]
    assert "/_mock/health" in healthcheck and "MOCKSERVER_PORT" in healthcheck
    assert "/_mock/health" in get_paths()


def test_the_deploy_guide_lists_every_variable() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    missing = [variable for variable in sorted(VARIABLES) if f"`{variable}`" not in guide]
    assert not missing
