"""Deployment files: collector/otel-collector.yaml, docker-compose.yml and example/Dockerfile.

Each rule is a function returning the problems it finds (empty when the files are right). Every
rule runs on the real files and on a deliberately broken copy written to tmp_path, so a rule that
can never fail would show up here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
COLLECTOR_FILE = REPO / "collector" / "otel-collector.yaml"
COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib"
# What an image listens on when we give it no config: from the EXPOSE lines of
# jaegertracing/jaeger's cmd/jaeger/Dockerfile (its image sets JAEGER_LISTEN_HOST=0.0.0.0).
IMAGE_PORTS = {
    "jaegertracing/jaeger": {4317, 4318, 5778, 5779, 9411, 13132, 13133, 14250, 14268, 16686},
}
OTLP_EXPORTERS = {"otlp", "otlp_grpc", "otlphttp", "otlp_http"}
OTLP_DEFAULT_PORTS = {"grpc": 4317, "http": 4318}
PIPELINE_KINDS = ("receivers", "processors", "exporters")

Doc = dict[str, Any]


def load(path: Path) -> Doc:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path} is not a YAML mapping"
    return loaded


def broken_copy(tmp_path: Path, source: Path, keys: tuple[str, ...], value: object) -> Doc:
    """Load *source*, set the value at *keys*, write it to tmp_path and load it back."""
    doc = load(source)
    parent = doc
    for key in keys[:-1]:
        parent = parent[key]
    parent[keys[-1]] = value
    target = tmp_path / source.name
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load(target)


def host_port(endpoint: str | None, default_port: int | None = None) -> tuple[str, int | None]:
    """``host:port`` or ``scheme://host:port``; a missing endpoint is the collector's localhost."""
    if not endpoint:
        return "localhost", default_port
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    return parts.hostname or "", parts.port


def kind_of(component_id: str) -> str:
    return component_id.partition("/")[0]


# ---------------------------------------------------------------- collector rules


def component_problems(collector: Doc) -> list[str]:
    """Pipelines name only defined components, and every defined component is used."""
    service = collector.get("service") or {}
    pipelines = service.get("pipelines") or {}
    connectors = set(collector.get("connectors") or {})
    problems, used_connectors = [], set()
    for kind in PIPELINE_KINDS:
        defined = set(collector.get(kind) or {})
        used = {c for pipeline in pipelines.values() for c in pipeline.get(kind) or []}
        used_connectors |= used & connectors
        problems += [
            f"{kind[:-1]} {c!r} is used but not defined" for c in used - defined - connectors
        ]
        problems += [f"{kind[:-1]} {c!r} is defined but in no pipeline" for c in defined - used]
    problems += [
        f"connector {c!r} is defined but in no pipeline" for c in connectors - used_connectors
    ]
    defined_ext = set(collector.get("extensions") or {})
    enabled_ext = set(service.get("extensions") or [])
    problems += [f"extension {e!r} is enabled but not defined" for e in enabled_ext - defined_ext]
    problems += [f"extension {e!r} is defined but not enabled" for e in defined_ext - enabled_ext]
    return sorted(problems)


def processor_order_problems(collector: Doc) -> list[str]:
    """memory_limiter comes first in every pipeline, and a batch processor comes after it."""
    problems = []
    for name, pipeline in collector["service"]["pipelines"].items():
        kinds = [kind_of(p) for p in pipeline.get("processors") or []]
        if kinds[:1] != ["memory_limiter"]:
            problems.append(f"pipeline {name!r}: memory_limiter is not the first processor")
        if "batch" not in kinds[1:]:
            problems.append(f"pipeline {name!r}: no batch processor after memory_limiter")
    return problems


def otlp_endpoints(collector: Doc) -> list[tuple[str, str, int | None]]:
    """(protocol, host, port) of every OTLP receiver protocol."""
    found = []
    for receiver_id, receiver in (collector.get("receivers") or {}).items():
        if kind_of(receiver_id) == "otlp":
            for protocol, settings in ((receiver or {}).get("protocols") or {}).items():
                endpoint = (settings or {}).get("endpoint")
                found.append((protocol, *host_port(endpoint, OTLP_DEFAULT_PORTS.get(protocol))))
    return found


def receiver_problems(collector: Doc) -> list[str]:
    """An OTLP receiver listens on 4317 (gRPC) and 4318 (HTTP), reachable from other containers."""
    endpoints = otlp_endpoints(collector)
    problems = [
        f"no OTLP {protocol} receiver on port {port}"
        for protocol, port in OTLP_DEFAULT_PORTS.items()
        if not any(p == protocol and found == port for p, _, found in endpoints)
    ]
    problems += [
        f"OTLP {protocol} receiver listens on {host} only: other containers cannot reach it"
        for protocol, host, _ in endpoints
        if host in {"localhost", "127.0.0.1", "::1"}
    ]
    return problems


# ---------------------------------------------------------------- compose rules


def image_repository(image: str) -> str:
    name = image.partition("@")[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.partition(':')[0]}" if head else last.partition(":")[0]


def listen_ports(compose: Doc, service_name: str, collector: Doc) -> set[int]:
    """Ports a compose service's container listens on, as far as these files can tell."""
    repository = image_repository(compose["services"][service_name].get("image", ""))
    if repository == COLLECTOR_IMAGE:
        return {port for _, _, port in otlp_endpoints(collector) if port is not None}
    return IMAGE_PORTS.get(repository, set())


def traces_export_problems(compose: Doc, collector: Doc) -> list[str]:
    """Each traces pipeline exports over OTLP to a compose service, on a port it listens on."""
    problems = []
    for name, pipeline in collector["service"]["pipelines"].items():
        if kind_of(name) != "traces":
            continue
        otlp = [e for e in pipeline.get("exporters") or [] if kind_of(e) in OTLP_EXPORTERS]
        if not otlp:
            problems.append(f"pipeline {name!r} has no OTLP exporter")
        for exporter in otlp:
            host, port = host_port(collector["exporters"][exporter].get("endpoint"))
            if host not in compose["services"]:
                problems.append(f"exporter {exporter!r}: {host!r} is not a compose service")
            elif port not in listen_ports(compose, host, collector):
                problems.append(f"exporter {exporter!r}: {host} does not listen on {port}")
    return problems


def image_pin_problems(compose: Doc) -> list[str]:
    """Every image names an explicit version (or a digest): no missing tag, no ``latest``."""
    problems = []
    for name, service in compose["services"].items():
        image = service.get("image")
        if image is None or "@sha256:" in image:
            continue
        tag = image.rpartition("/")[2].partition(":")[2]
        if not re.match(r"v?\d+\.\d+", tag):
            problems.append(f"service {name!r}: image {image!r} is not pinned to a version")
    return problems


def published_ports(service: Doc) -> list[tuple[str, int, str]]:
    """(host ip, host port, protocol) of each published port, short or long syntax."""
    found = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published"):
                ip, proto = entry.get("host_ip", "0.0.0.0"), entry.get("protocol", "tcp")  # noqa: S104
                found.append((ip, int(entry["published"]), proto))
            continue
        mapping, _, proto = str(entry).partition("/")
        parts = mapping.rsplit(":", 2)
        if len(parts) > 1:
            ip = parts[0] if len(parts) == 3 else "0.0.0.0"  # noqa: S104
            found.append((ip, int(parts[-2]), proto or "tcp"))
    return found


def port_clash_problems(compose: Doc) -> list[str]:
    """No two services publish the same host port (0.0.0.0 overlaps every address)."""
    problems: list[str] = []
    seen: dict[tuple[str, int, str], str] = {}
    for name, service in compose["services"].items():
        for ip, port, proto in published_ports(service):
            for (other_ip, other_port, other_proto), other in seen.items():
                wildcard = "0.0.0.0" in {ip, other_ip}  # noqa: S104
                if (port, proto) == (other_port, other_proto) and (ip == other_ip or wildcard):
                    problems.append(f"host port {port}/{proto}: {other!r} and {name!r} clash")
            seen[ip, port, proto] = name
    return problems


def environment(service: Doc) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: str(value) for key, value in env.items()}


def app_endpoint_problems(compose: Doc, collector: Doc) -> list[str]:
    """OTEL_EXPORTER_OTLP_ENDPOINT names the collector service and its receiver's port."""
    services = compose["services"]
    collectors = {
        n for n, s in services.items() if image_repository(s.get("image", "")) == COLLECTOR_IMAGE
    }
    problems = []
    for name, service in services.items():
        env = environment(service)
        if "OTEL_EXPORTER_OTLP_ENDPOINT" not in env:
            continue
        protocol = "grpc" if env.get("OTEL_EXPORTER_OTLP_PROTOCOL") == "grpc" else "http"
        host, port = host_port(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        ports = {p for proto, _, p in otlp_endpoints(collector) if proto == protocol}
        if host not in collectors:
            problems.append(f"service {name!r}: OTLP endpoint host {host!r} is not the collector")
        elif port not in ports:
            problems.append(
                f"service {name!r}: collector has no OTLP {protocol} receiver on {port}"
            )
    return problems


def mount_problems(compose: Doc, base: Path) -> list[str]:
    """Bind-mounted files exist, and the collector's --config path is one of them."""
    problems = []
    for name, service in compose["services"].items():
        mounts = {}
        for volume in service.get("volumes") or []:
            source, _, target = str(volume).partition(":")
            if source.startswith((".", "/")):
                mounts[target.partition(":")[0]] = source
                if not (base / source).exists():
                    problems.append(f"service {name!r}: mounted {source!r} does not exist")
        if image_repository(service.get("image", "")) == COLLECTOR_IMAGE:
            args = [a for a in service.get("command") or [] if a.startswith("--config=")]
            config_path = args[0].partition("=")[2] if args else "/etc/otelcol-contrib/config.yaml"
            if config_path not in mounts:
                problems.append(f"service {name!r}: nothing is mounted at {config_path}")
    return problems


def build_problems(compose: Doc, base: Path) -> list[str]:
    """Each build's Dockerfile exists, and so does every local source its COPY lines name."""
    problems = []
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            continue
        build = {"context": build} if isinstance(build, str) else build
        context = base / build.get("context", ".")
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        if not dockerfile.is_file():
            problems.append(f"service {name!r}: Dockerfile {dockerfile.name!r} does not exist")
            continue
        for line in dockerfile.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
                missing = [w for w in words[1:-1] if not w.startswith("--")]
                missing = [w for w in missing if not (context / w).exists()]
                problems += [f"service {name!r}: COPY source {w!r} does not exist" for w in missing]
    return problems


def compose_cli() -> list[str] | None:
    """``docker compose`` if the plugin runs, else Debian's ``docker-compose`` v1, else None."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


# ---------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def collector() -> Doc:
    return load(COLLECTOR_FILE)


@pytest.fixture(scope="module")
def compose() -> Doc:
    return load(COMPOSE_FILE)


class TestCollectorComponents:
    def test_real_config_is_consistent(self, collector: Doc) -> None:
        """Every component in a pipeline is defined, and every defined one is used."""
        assert component_problems(collector) == []

    def test_undefined_exporter_is_reported(self, tmp_path: Path) -> None:
        """A pipeline naming an exporter that is not defined is reported."""
        keys = ("service", "pipelines", "traces", "exporters")
        broken = broken_copy(
            tmp_path, COLLECTOR_FILE, keys, ["otlp_grpc/jaeger", "debug", "zipkin"]
        )
        assert component_problems(broken) == ["exporter 'zipkin' is used but not defined"]

    def test_unused_processor_is_reported(self, tmp_path: Path) -> None:
        """A processor defined but in no pipeline is reported."""
        broken = broken_copy(
            tmp_path, COLLECTOR_FILE, ("processors", "attributes"), {"actions": []}
        )
        assert component_problems(broken) == [
            "processor 'attributes' is defined but in no pipeline"
        ]

    def test_extension_not_enabled_is_reported(self, tmp_path: Path) -> None:
        """An extension defined but not listed under service.extensions is reported."""
        broken = broken_copy(tmp_path, COLLECTOR_FILE, ("service", "extensions"), [])
        assert component_problems(broken) == ["extension 'health_check' is defined but not enabled"]


FIRST = "memory_limiter is not the first processor"
BATCH = "no batch processor after memory_limiter"


class TestProcessorOrder:
    def test_real_config_limits_memory_first(self, collector: Doc) -> None:
        """Every pipeline starts with memory_limiter and batches after it."""
        assert processor_order_problems(collector) == []

    @pytest.mark.parametrize(
        ("processors", "expected"),
        [
            (["batch", "memory_limiter"], [FIRST, BATCH]),
            (["memory_limiter"], [BATCH]),
            (["batch"], [FIRST, BATCH]),
            (["attributes", "memory_limiter", "batch"], [FIRST]),
        ],
    )
    def test_wrong_order_is_reported(
        self, tmp_path: Path, processors: list[str], expected: list[str]
    ) -> None:
        """A logs pipeline without memory_limiter first, or without batch after it, is reported."""
        keys = ("service", "pipelines", "logs", "processors")
        broken = broken_copy(tmp_path, COLLECTOR_FILE, keys, processors)
        assert processor_order_problems(broken) == [f"pipeline 'logs': {e}" for e in expected]


class TestOtlpReceiver:
    def test_real_config_listens_on_4317_and_4318(self, collector: Doc) -> None:
        """The OTLP receiver takes gRPC on 4317 and HTTP on 4318, on all interfaces."""
        assert receiver_problems(collector) == []

    def test_wrong_http_port_is_reported(self, tmp_path: Path) -> None:
        """An HTTP receiver moved off 4318 is reported."""
        keys = ("receivers", "otlp", "protocols", "http")
        broken = broken_copy(tmp_path, COLLECTOR_FILE, keys, {"endpoint": "0.0.0.0:4319"})
        assert receiver_problems(broken) == ["no OTLP http receiver on port 4318"]

    def test_default_localhost_endpoint_is_reported(self, tmp_path: Path) -> None:
        """A protocol without endpoint listens on localhost, out of other containers' reach."""
        broken = broken_copy(
            tmp_path, COLLECTOR_FILE, ("receivers", "otlp", "protocols", "grpc"), None
        )
        assert receiver_problems(broken) == [
            "OTLP grpc receiver listens on localhost only: other containers cannot reach it"
        ]


class TestTracesExport:
    def test_real_config_exports_to_jaeger(self, compose: Doc, collector: Doc) -> None:
        """Traces leave over OTLP to a compose service on a port its image listens on."""
        assert traces_export_problems(compose, collector) == []

    @pytest.mark.parametrize(
        ("endpoint", "expected"),
        [
            ("tempo:4317", "'tempo' is not a compose service"),
            ("jaeger:14317", "jaeger does not listen on 14317"),
            ("app:4317", "app does not listen on 4317"),
        ],
    )
    def test_wrong_endpoint_is_reported(
        self, tmp_path: Path, compose: Doc, endpoint: str, expected: str
    ) -> None:
        """An unknown host, or a port the service does not listen on, is reported."""
        keys = ("exporters", "otlp_grpc/jaeger", "endpoint")
        broken = broken_copy(tmp_path, COLLECTOR_FILE, keys, endpoint)
        assert traces_export_problems(compose, broken) == [
            f"exporter 'otlp_grpc/jaeger': {expected}"
        ]

    def test_missing_otlp_exporter_is_reported(self, tmp_path: Path, compose: Doc) -> None:
        """A traces pipeline that only prints is reported."""
        keys = ("service", "pipelines", "traces", "exporters")
        broken = broken_copy(tmp_path, COLLECTOR_FILE, keys, ["debug"])
        assert traces_export_problems(compose, broken) == ["pipeline 'traces' has no OTLP exporter"]


class TestImagePins:
    def test_real_images_are_pinned(self, compose: Doc) -> None:
        """Every compose image names an explicit version."""
        assert image_pin_problems(compose) == []

    @pytest.mark.parametrize(
        "image", ["jaegertracing/jaeger", "jaegertracing/jaeger:latest", "jaegertracing/jaeger:2"]
    )
    def test_unpinned_image_is_reported(self, tmp_path: Path, image: str) -> None:
        """A missing tag, ``latest`` or a bare major version is reported."""
        broken = broken_copy(tmp_path, COMPOSE_FILE, ("services", "jaeger", "image"), image)
        assert image_pin_problems(broken) == [
            f"service 'jaeger': image {image!r} is not pinned to a version"
        ]


class TestPublishedPorts:
    def test_real_ports_do_not_clash(self, compose: Doc) -> None:
        """No host port is published by two services."""
        assert port_clash_problems(compose) == []

    def test_jaeger_publishing_otlp_is_reported(self, tmp_path: Path) -> None:
        """Jaeger publishing 4317 on any address clashes with the collector's 4317."""
        ports = ["127.0.0.1:16686:16686", "4317:4317"]
        broken = broken_copy(tmp_path, COMPOSE_FILE, ("services", "jaeger", "ports"), ports)
        assert port_clash_problems(broken) == [
            "host port 4317/tcp: 'otel-collector' and 'jaeger' clash"
        ]


class TestAppEndpoint:
    def test_real_app_sends_to_collector_http_receiver(self, compose: Doc, collector: Doc) -> None:
        """The app's OTLP endpoint is the collector service on its OTLP/HTTP port."""
        assert app_endpoint_problems(compose, collector) == []

    @pytest.mark.parametrize(
        ("endpoint", "expected"),
        [
            ("http://jaeger:4318", "OTLP endpoint host 'jaeger' is not the collector"),
            ("http://otel-collector:4317", "collector has no OTLP http receiver on 4317"),
        ],
    )
    def test_wrong_endpoint_is_reported(
        self, tmp_path: Path, collector: Doc, endpoint: str, expected: str
    ) -> None:
        """Skipping the collector, or using its gRPC port for OTLP/HTTP, is reported."""
        keys = ("services", "app", "environment", "OTEL_EXPORTER_OTLP_ENDPOINT")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, endpoint)
        assert app_endpoint_problems(broken, collector) == [f"service 'app': {expected}"]


class TestReferencedFiles:
    def test_real_files_exist(self, compose: Doc) -> None:
        """The collector config is mounted at --config; the Dockerfile and its sources exist."""
        assert mount_problems(compose, REPO) == []
        assert build_problems(compose, REPO) == []

    def test_missing_collector_config_is_reported(self, tmp_path: Path) -> None:
        """A mount of a collector config that is not in the repo is reported."""
        volumes = ["./collector/otel-collector.yml:/etc/otelcol-contrib/config.yaml:ro"]
        broken = broken_copy(
            tmp_path, COMPOSE_FILE, ("services", "otel-collector", "volumes"), volumes
        )
        assert mount_problems(broken, REPO) == [
            "service 'otel-collector': mounted './collector/otel-collector.yml' does not exist"
        ]

    def test_config_flag_pointing_elsewhere_is_reported(self, tmp_path: Path) -> None:
        """--config naming a path nothing is mounted at is reported."""
        keys = ("services", "otel-collector", "command")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, ["--config=/etc/otelcol/config.yaml"])
        assert mount_problems(broken, REPO) == [
            "service 'otel-collector': nothing is mounted at /etc/otelcol/config.yaml"
        ]

    def test_missing_dockerfile_is_reported(self, tmp_path: Path) -> None:
        """A build naming a Dockerfile that is not in the repo is reported."""
        keys = ("services", "app", "build", "dockerfile")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, "example/Dockerfile.missing")
        assert build_problems(broken, REPO) == [
            "service 'app': Dockerfile 'Dockerfile.missing' does not exist"
        ]

    def test_missing_copy_source_is_reported(self, tmp_path: Path) -> None:
        """A Dockerfile copying a file the build context lacks is reported."""
        dockerfile = REPO / "example" / "Dockerfile"
        text = dockerfile.read_text(encoding="utf-8")
        (tmp_path / "Dockerfile").write_text(
            text.replace("README.md", "README.rst"), encoding="utf-8"
        )
        build = {"context": str(REPO), "dockerfile": str(tmp_path / "Dockerfile")}
        broken = broken_copy(tmp_path, COMPOSE_FILE, ("services", "app", "build"), build)
        assert build_problems(broken, REPO) == [
            "service 'app': COPY source 'README.rst' does not exist"
        ]


class TestComposeCli:
    """``compose config`` is client-side: it validates the file without a Docker engine."""

    @pytest.fixture
    def cli(self) -> list[str]:
        command = compose_cli()
        if command is None:
            pytest.skip(
                "no compose CLI: neither `docker compose` nor `docker-compose` runs here "
                "(apt-get install docker-compose); the structural tests above still ran"
            )
        return command

    def test_compose_file_is_valid(self, cli: list[str]) -> None:
        """``compose config -q`` accepts docker-compose.yml."""
        result = subprocess.run(
            [*cli, "-f", str(COMPOSE_FILE), "config", "-q"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    def test_broken_compose_file_is_rejected(self, cli: list[str], tmp_path: Path) -> None:
        """``compose config -q`` rejects a copy with a misspelt service key."""
        broken_copy(
            tmp_path, COMPOSE_FILE, ("services", "jaeger", "imagee"), "jaegertracing/jaeger:2.20.0"
        )
        result = subprocess.run(
            [*cli, "-f", str(tmp_path / COMPOSE_FILE.name), "config", "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0
        assert "imagee" in result.stderr


# ---------------------------------------------------------------- filelog overlay

FILELOG_FILE = REPO / "collector" / "otel-collector-filelog.yaml"


def merged(base: Doc, overlay: Doc) -> Doc:
    """What ``--config=base --config=overlay`` gives: maps merged, anything else replaced."""
    result = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def filelog_pipeline_problems(collector: Doc) -> list[str]:
    """Pipelines reading files use the OTLP logs pipeline's processors and exporters."""
    pipelines = collector["service"]["pipelines"]
    reference = pipelines.get("logs") or {}
    reading = {
        name: pipeline
        for name, pipeline in pipelines.items()
        if any(kind_of(r) == "filelog" for r in pipeline.get("receivers") or [])
    }
    if not reading:
        return ["no pipeline reads files (filelog receiver)"]
    return [
        f"pipeline {name!r}: {part} differ from the 'logs' pipeline's"
        for name, pipeline in reading.items()
        for part in ("processors", "exporters")
        if pipeline.get(part) != reference.get(part)
    ]


@pytest.fixture(scope="module")
def with_filelog(collector: Doc) -> Doc:
    return merged(collector, load(FILELOG_FILE))


class TestFilelogOverlay:
    def test_merged_config_passes_the_collector_rules(self, with_filelog: Doc) -> None:
        """Merged onto otel-collector.yaml, the overlay keeps every rule above satisfied."""
        assert component_problems(with_filelog) == []
        assert processor_order_problems(with_filelog) == []
        assert receiver_problems(with_filelog) == []

    def test_files_are_shipped_like_otlp_logs(self, with_filelog: Doc) -> None:
        """The filelog pipeline has the OTLP logs pipeline's processors and exporters."""
        assert filelog_pipeline_problems(with_filelog) == []

    def test_overlay_dropping_an_extension_is_reported(
        self, tmp_path: Path, collector: Doc
    ) -> None:
        """Lists are replaced on merge: an overlay naming only its own extension loses one."""
        broken = broken_copy(
            tmp_path, FILELOG_FILE, ("service", "extensions"), ["file_storage/filelog"]
        )
        assert component_problems(merged(collector, broken)) == [
            "extension 'health_check' is defined but not enabled"
        ]

    def test_other_exporters_are_reported(self, tmp_path: Path, collector: Doc) -> None:
        """A filelog pipeline exporting elsewhere than the OTLP logs is reported."""
        keys = ("service", "pipelines", "logs/filelog", "exporters")
        broken = broken_copy(tmp_path, FILELOG_FILE, keys, ["debug"])
        assert filelog_pipeline_problems(merged(collector, broken)) == [
            "pipeline 'logs/filelog': exporters differ from the 'logs' pipeline's"
        ]

    def test_base_config_alone_ships_no_files(self, collector: Doc) -> None:
        """Without the overlay no pipeline reads files: the rule can fail."""
        assert filelog_pipeline_problems(collector) == [
            "no pipeline reads files (filelog receiver)"
        ]
