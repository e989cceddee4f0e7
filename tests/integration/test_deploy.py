"""deploy/: the compose files validate (`docker-compose config -q`), the Kubernetes manifests
parse and agree with the server: their arguments are valid ``voice serve`` flags, ports and
probes match those flags, images match the compose file, the HPA scales on a metric the
server exports, the PDB and Service select the pods; the nginx config passes ``nginx -t``;
the Prometheus config and Grafana dashboard use series the server has."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from voice.api.grpc.server import LIVENESS
from voice.cli import _parser
from voice.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def compose(path: Path) -> dict:
    assert shutil.which("docker-compose"), "run tools/install_test_deps.py"
    proc = subprocess.run(["docker-compose", "-f", str(path), "config", "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(path.read_text())


def manifests() -> dict[tuple[str, str], dict]:
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc and doc["kind"] != "Kustomization":
                key = (doc["kind"], doc["metadata"]["name"] + ("-gpu" if path.name.endswith("-gpu.yaml") else ""))
                out[key] = doc
    return out


def serve_flags(args: list[str]):
    assert args[:2] == ["voice", "serve"]
    return _parser().parse_args(args[1:])


def test_compose_files_validate_and_run_the_server_with_its_flags():
    root = compose(ROOT / "docker-compose.yml")
    stack = compose(DEPLOY / "docker-compose.yml")
    voice = stack["services"]["voice"]
    flags = serve_flags(voice["command"])
    assert {str(flags.port), str(flags.http_port), str(flags.metrics_port)} == set(voice["expose"])
    assert voice["image"] == root["services"]["voice"]["image"]
    assert voice["stop_signal"] == "SIGTERM"
    config = load_config(DEPLOY / "voice.toml", env={})
    assert int(voice["stop_grace_period"].rstrip("s")) > config.server.grace_period_s + config.server.drain_delay_s
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert f"server voice:{flags.port}" in nginx and f"server voice:{flags.http_port}" in nginx
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    dns = prometheus["scrape_configs"][0]["dns_sd_configs"][0]
    assert dns["names"] == ["voice"] and dns["port"] == flags.metrics_port


@pytest.mark.parametrize("variant", ["voice", "voice-gpu"])
def test_deployments_agree_with_the_server(variant, tmp_path):
    docs = manifests()
    deployment = docs[("Deployment", variant)]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    flags = serve_flags(container["args"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": flags.port, "http": flags.http_port, "metrics": flags.metrics_port}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        grpc_probe = container[probe]["grpc"]
        assert grpc_probe["port"] == flags.port
        assert grpc_probe.get("service", "") in ("", LIVENESS)  # "" = overall health: NOT_SERVING while loading/draining
    assert container["livenessProbe"]["grpc"]["service"] == LIVENESS
    assert "service" not in container["readinessProbe"]["grpc"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and int(annotations["prometheus.io/port"]) == flags.metrics_port
    # the config the pods read (ConfigMap) is a valid server config, and the pod waits for its drain
    configmap = docs[("ConfigMap", "voice-config")]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert flags.sub_config == f"{mount['mountPath']}/voice.toml"
    toml = tmp_path / "voice.toml"
    toml.write_text(configmap["data"]["voice.toml"])
    server = load_config(toml, env={}).server
    assert pod["spec"]["terminationGracePeriodSeconds"] > server.grace_period_s + server.drain_delay_s
    assert server.drain_delay_s > 0  # the readiness probe sees NOT_SERVING before the listener closes
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for kind in ("Service", "PodDisruptionBudget"):
        selector = docs[(kind, "voice")]["spec"].get("selector", {})
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= labels.items()
    service_ports = {p["name"]: p["targetPort"] for p in docs[("Service", "voice")]["spec"]["ports"]}
    assert set(service_ports.values()) <= set(ports)
    image = container["image"]
    if variant == "voice-gpu":
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        assert requests["nvidia.com/gpu"] == 1 and limits["nvidia.com/gpu"] == 1
        assert image == "voice-service:gpu" and "-t voice-service:gpu" in (DEPLOY / "Dockerfile.gpu").read_text()
    else:
        assert image == yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["voice"]["image"]
        assert "nvidia.com/gpu" not in json.dumps(container)


def test_the_hpa_scales_the_deployment_on_a_metric_the_server_exports():
    docs = manifests()
    hpa = docs[("HorizontalPodAutoscaler", "voice")]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "voice"}
    (metric,) = hpa["spec"]["metrics"]
    name = metric["pods"]["metric"]["name"]
    from voice.api.ops import metrics

    assert name == "voice_active_calls" and name in Path(metrics.__file__).read_text()
    assert hpa["spec"]["minReplicas"] >= docs[("PodDisruptionBudget", "voice")]["spec"]["minAvailable"] + 1
    rules = docs[("ConfigMap", "voice-prometheus-adapter-rules")]["data"]["config.yaml"]
    assert name in yaml.safe_load(rules)["rules"][0]["seriesQuery"]


def test_the_dashboard_and_scrape_config_use_the_servers_series():
    from voice.api.ops import metrics

    source = Path(metrics.__file__).read_text()
    dashboard = json.loads((DEPLOY / "grafana" / "voice-dashboard.json").read_text())
    series = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            series |= set(re.findall(r"\b(voice_[a-z_]+?)(?:_bucket|_sum|_count|_total)?\b", target["expr"]))
    assert {"voice_active_calls", "voice_requests", "voice_stage_seconds", "voice_decode_queue_depth",
            "voice_realtime_factor", "voice_barge_ins", "voice_interims_dropped", "voice_model_state"} <= series
    for name in series:
        assert f'"{name}"' in source, name


def test_nginx_config_is_valid(tmp_path):
    conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
    # compose's DNS names do not resolve here: point them at loopback for the syntax check
    conf = conf.replace("server voice:", "server 127.0.0.1:").replace("/dev/stdout", str(tmp_path / "access.log"))
    conf = conf.replace("/dev/stderr", str(tmp_path / "error.log"))
    conf = re.sub(r"listen (\d+)", lambda m: f"listen 127.0.0.1:{m.group(1)}", conf)
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid;\n" + conf)
    proc = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                           "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
