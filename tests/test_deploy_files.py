"""Deployment files: collector/otel-collector.yaml, docker-compose.yml and example/Dockerfile.

Each rule is a function returning the problems it finds (empty when the files are right). Every
rule runs on the real files and on a deliberately broken copy written to tmp_path, so a rule that
can never fail would show up here.

The real collector validates the collector configs (tests/integration/test_collector_config.py:
unknown components, pipelines naming undefined ones, bad settings). What is left here is what it
accepts but the compose stack cannot work with: a defined component no pipeline uses, the
processor order, listening on localhost only, an exporter aimed at no compose service.
The configs' ``${env:NAME:-default}`` placeholders are read as their defaults: compose sets none
of those variables.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import shlex
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
# jaegertracing/jaeger's cmd/jaeger/Dockerfile (its image sets JAEGER_LISTEN_HOST=0.0.0.0)
# and of the official redis image's Dockerfile.
IMAGE_PORTS = {
    "jaegertracing/jaeger": {4317, 4318, 5778, 5779, 9411, 13132, 13133, 14250, 14268, 16686},
    "redis": {6379},
}
REDIS_IMAGE = "redis"
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# What example/gunicorn.conf.py binds to without EXAMPLE_BIND.
GUNICORN_DEFAULT_BIND = "127.0.0.1:8000"
PRICING_SETTINGS = "example.pricing_settings"
WEB_SETTINGS = "example.settings"
OTLP_EXPORTERS = {"otlp", "otlp_grpc", "otlphttp", "otlp_http"}
OTLP_DEFAULT_PORTS = {"grpc": 4317, "http": 4318}
PIPELINE_KINDS = ("receivers", "processors", "exporters")

Doc = dict[str, Any]


ENV_PLACEHOLDER = re.compile(r"\$\{env:[A-Z0-9_]+:-([^}]*)\}")


def load(path: Path) -> Doc:
    """The YAML of *path*, ``${env:NAME:-default}`` read as its default (what compose runs)."""
    text = ENV_PLACEHOLDER.sub(r"\1", path.read_text(encoding="utf-8"))
    loaded = yaml.safe_load(text)
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


def broken_dockerfile(tmp_path: Path, old: str, new: str) -> Doc:
    """A compose copy whose app builds a copy of example/Dockerfile with *old* replaced by *new*."""
    text = (REPO / "example" / "Dockerfile").read_text(encoding="utf-8")
    assert old in text, f"example/Dockerfile has no {old!r}"
    (tmp_path / "Dockerfile").write_text(text.replace(old, new), encoding="utf-8")
    build = {"context": str(REPO), "dockerfile": str(tmp_path / "Dockerfile")}
    return broken_copy(tmp_path, COMPOSE_FILE, ("services", "app", "build"), build)


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


def build_paths(service: Doc, base: Path) -> tuple[Path, Path] | None:
    """(context, Dockerfile) of a service built from a Dockerfile; None for an image."""
    build = service.get("build")
    if build is None:
        return None
    build = {"context": build} if isinstance(build, str) else build
    context = base / build.get("context", ".")
    return context, context / build.get("dockerfile", "Dockerfile")


def build_problems(compose: Doc, base: Path) -> list[str]:
    """Each build's Dockerfile exists, and so does every local source its COPY lines name."""
    problems = []
    for name, service in compose["services"].items():
        paths = build_paths(service, base)
        if paths is None:
            continue
        context, dockerfile = paths
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


# ---------------------------------------------------------------- the example's services
# app, pricing and worker run the image of example/Dockerfile, told apart by their settings
# module and command, as example/processes.py starts them for `make demo`.

#: Where example.tasks sends tasks without EXAMPLE_BROKER_URL: inside a container, itself.
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
#: example.tasks' queue without EXAMPLE_TASK_QUEUE.
DEFAULT_TASK_QUEUE = "example"


def dockerfile_instructions(dockerfile: Path) -> list[list[str]]:
    """The words of each instruction, continuation lines joined and comments left out."""
    lines = dockerfile.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    return [shlex.split(line) for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def dockerfile_env(dockerfile: Path) -> dict[str, str]:
    """What the Dockerfile's ``ENV KEY=value`` instructions set."""
    env = {}
    for words in dockerfile_instructions(dockerfile):
        if words[:1] == ["ENV"]:
            env.update(word.split("=", 1) for word in words[1:] if "=" in word)
    return env


def container_env(service: Doc, base: Path) -> dict[str, str]:
    """A container's environment as far as these files tell: the image's ENV, then compose's."""
    paths = build_paths(service, base)
    env = dockerfile_env(paths[1]) if paths is not None and paths[1].is_file() else {}
    return env | environment(service)


def built_services(compose: Doc, base: Path) -> dict[str, dict[str, str]]:
    """The container environment of each service built from a Dockerfile, by service name."""
    return {
        name: container_env(service, base)
        for name, service in compose["services"].items()
        if "build" in service
    }


def runs_celery_worker(service: Doc) -> bool:
    command = service.get("command") or []
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    return "celery" in words and "worker" in words


def web_services(compose: Doc, base: Path) -> list[str]:
    """The services serving the example app: example.settings, and not a Celery worker."""
    return [
        name
        for name, env in built_services(compose, base).items()
        if env.get("DJANGO_SETTINGS_MODULE") == WEB_SETTINGS
        and not runs_celery_worker(compose["services"][name])
    ]


def built_export_problems(compose: Doc, base: Path) -> list[str]:
    """Every service built here exports OTLP/HTTP, under an OTEL_SERVICE_NAME of its own.

    Where the endpoint points is app_endpoint_problems' rule.
    """
    problems = []
    seen: dict[str, str] = {}
    for name, env in built_services(compose, base).items():
        if not env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            problems.append(f"service {name!r}: no OTEL_EXPORTER_OTLP_ENDPOINT: no span leaves it")
        protocol = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        if protocol != "http/protobuf":
            problems.append(f"service {name!r}: exports over {protocol!r}, not http/protobuf")
        service_name = env.get("OTEL_SERVICE_NAME")
        if not service_name:
            problems.append(f"service {name!r}: no OTEL_SERVICE_NAME")
        elif service_name in seen:
            problems.append(
                f"services {seen[service_name]!r} and {name!r}: same OTEL_SERVICE_NAME "
                f"{service_name!r}"
            )
        else:
            seen[service_name] = name
    return problems


def broker_problems(compose: Doc, base: Path) -> list[str]:
    """The worker and the services queueing tasks share a broker on the redis service, and a queue.

    A service that queues tasks sets EXAMPLE_BROKER_URL (example.settings: unset, none are
    queued); a worker without it uses example.tasks' default, 127.0.0.1: its own container.
    """
    services = compose["services"]
    built = built_services(compose, base)
    workers = [name for name in built if runs_celery_worker(services[name])]
    if not workers:
        return ["no service runs a Celery worker"]
    producers = [n for n, env in built.items() if "EXAMPLE_BROKER_URL" in env and n not in workers]
    problems = [] if producers else ["no service queues tasks: no other sets EXAMPLE_BROKER_URL"]
    for producer in producers:
        for worker in workers:
            for var, default in (
                ("EXAMPLE_BROKER_URL", DEFAULT_BROKER_URL),
                ("EXAMPLE_TASK_QUEUE", DEFAULT_TASK_QUEUE),
            ):
                ours, theirs = built[producer].get(var, default), built[worker].get(var, default)
                if ours != theirs:
                    problems.append(
                        f"services {producer!r} and {worker!r}: {var} {ours!r} != {theirs!r}"
                    )
    urls = [built[n].get("EXAMPLE_BROKER_URL", DEFAULT_BROKER_URL) for n in workers + producers]
    return problems + [p for url in dict.fromkeys(urls) for p in broker_url_problems(compose, url)]


def broker_url_problems(compose: Doc, url: str) -> list[str]:
    """A broker URL names the redis service, on a port its image listens on."""
    services = compose["services"]
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 6379
    if parts.scheme != "redis":
        return [f"broker {url!r}: not a redis:// URL"]
    if host not in services:
        return [f"broker {url!r}: {host!r} is not a compose service"]
    if image_repository(services[host].get("image", "")) != REDIS_IMAGE:
        return [f"broker {url!r}: {host!r} is not a Redis service"]
    if port not in IMAGE_PORTS[REDIS_IMAGE]:
        return [f"broker {url!r}: {host} does not listen on {port}"]
    return []


def pricing_url_problems(compose: Doc, base: Path) -> list[str]:
    """The app's EXAMPLE_PRICING_URL names the pricing service, on the port it binds to."""
    services = compose["services"]
    built = built_services(compose, base)
    web = web_services(compose, base)
    problems = [] if web else ["no service runs the example app (example.settings)"]
    for name in web:
        url = built[name].get("EXAMPLE_PRICING_URL")
        if not url:
            problems.append(f"service {name!r}: no EXAMPLE_PRICING_URL: its quote view answers 503")
            continue
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        if host not in services:
            problems.append(f"service {name!r}: pricing URL host {host!r} is not a compose service")
            continue
        if built.get(host, {}).get("DJANGO_SETTINGS_MODULE") != PRICING_SETTINGS:
            problems.append(f"service {name!r}: {host!r} does not run {PRICING_SETTINGS}")
            continue
        bind_host, bind_port = host_port(built[host].get("EXAMPLE_BIND", GUNICORN_DEFAULT_BIND))
        if bind_host in LOOPBACK:
            problems.append(
                f"service {name!r}: {host} listens on {bind_host} only: "
                "other containers cannot reach it"
            )
        elif port != bind_port:
            problems.append(
                f"service {name!r}: pricing URL port {port}, {host} listens on {bind_port}"
            )
    return problems


def _listed(value: object) -> list[str]:
    return [item.strip() for item in str(value or "").split(",") if item.strip()]


def pricing_trust_problems(compose: Doc, base: Path) -> list[str]:
    """pricing answers the app's Host, and trusts the stack's network as an internal hop.

    Django answers 400 to a Host outside ALLOWED_HOSTS; and identifiers in the baggage of a
    caller outside TRUSTED_NETWORKS are dropped at pricing's edge (example/pricing_settings.py).
    """
    built = built_services(compose, base)
    pricing = [
        name for name, env in built.items() if env.get("DJANGO_SETTINGS_MODULE") == PRICING_SETTINGS
    ]
    subnets = [
        ipaddress.ip_network(entry["subnet"])
        for entry in (((compose.get("networks") or {}).get("default") or {}).get("ipam") or {}).get(
            "config", []
        )
    ]
    problems = [] if subnets else ["the default network has no fixed subnet to trust"]
    for name in pricing:
        env = built[name]
        if name not in _listed(env.get("EXAMPLE_PRICING_ALLOWED_HOSTS")):
            problems.append(
                f"service {name!r}: {name!r} not in EXAMPLE_PRICING_ALLOWED_HOSTS (400)"
            )
        trusted = [
            ipaddress.ip_network(n) for n in _listed(env.get("EXAMPLE_PRICING_TRUSTED_NETWORKS"))
        ]
        problems += [
            f"service {name!r}: the stack's network {subnet} is not in its TRUSTED_NETWORKS"
            for subnet in subnets
            if not any(subnet.subnet_of(net) for net in trusted if net.version == subnet.version)
        ]
    return problems


def depends_on_problems(compose: Doc) -> list[str]:
    """depends_on (a list, or a mapping of conditions) names only other services of the file."""
    services = compose["services"]
    problems = []
    for name, service in services.items():
        for other in service.get("depends_on") or []:
            if other == name:
                problems.append(f"service {name!r}: depends on itself")
            elif other not in services:
                problems.append(f"service {name!r}: depends on {other!r}, which is not a service")
    return problems


def exposure_problems(compose: Doc) -> list[str]:
    """Every published port is bound to a loopback address: nothing faces other machines."""
    return [
        f"service {name!r}: publishes {port}/{proto} on {ip}, not on 127.0.0.1"
        for name, service in compose["services"].items()
        for ip, port, proto in published_ports(service)
        if ip not in LOOPBACK
    ]


def install_problems(compose: Doc, base: Path) -> list[str]:
    """The image installs under -c constraints.txt, with the extras its services use.

    [otlp] to export (or [grpc]), [requests] to trace the call to pricing (and carry the trace
    there), [celery] for the worker and for queueing its tasks.
    """
    problems = []
    for name, service in compose["services"].items():
        paths = build_paths(service, base)
        if paths is None or not paths[1].is_file():
            continue  # build_problems reports a missing Dockerfile
        dockerfile = paths[1]
        words = [
            word
            for instruction in dockerfile_instructions(dockerfile)
            if instruction[:1] == ["RUN"] and "pip" in instruction and "install" in instruction
            for word in instruction
        ]
        constrained = "--constraint=constraints.txt" in words or any(
            flag in {"-c", "--constraint"} and value == "constraints.txt"
            for flag, value in itertools.pairwise(words)
        )
        if not constrained:
            problems.append(f"service {name!r}: {dockerfile.name} installs without constraints.txt")
        extras = {
            extra
            for word in words
            if (match := re.fullmatch(r"\.\[([\w,-]+)\]", word))
            for extra in match.group(1).split(",")
        }
        env = container_env(service, base)
        needed = []
        if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            needed.append("grpc" if env.get("OTEL_EXPORTER_OTLP_PROTOCOL") == "grpc" else "otlp")
        if "EXAMPLE_PRICING_URL" in env:
            needed.append("requests")
        if "EXAMPLE_BROKER_URL" in env or runs_celery_worker(service):
            needed.append("celery")
        problems += [
            f"service {name!r}: {dockerfile.name} does not install the [{extra}] extra"
            for extra in needed
            if extra not in extras
        ]
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

    def test_unused_processor_is_reported(self, tmp_path: Path) -> None:
        """A processor defined but in no pipeline is reported (the collector accepts it)."""
        broken = broken_copy(
            tmp_path, COLLECTOR_FILE, ("processors", "attributes"), {"actions": []}
        )
        assert component_problems(broken) == [
            "processor 'attributes' is defined but in no pipeline"
        ]

    def test_extension_not_enabled_is_reported(self, tmp_path: Path) -> None:
        """An extension defined but not under service.extensions is reported (accepted too)."""
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

    @pytest.mark.parametrize("image", ["redis", "redis:alpine", "redis:7-alpine", "redis:latest"])
    def test_unpinned_redis_is_reported(self, tmp_path: Path, image: str) -> None:
        """The broker's image is held to the same rule: a major version alone is not a pin."""
        broken = broken_copy(tmp_path, COMPOSE_FILE, ("services", "redis", "image"), image)
        assert image_pin_problems(broken) == [
            f"service 'redis': image {image!r} is not pinned to a version"
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

    def test_real_ports_are_on_loopback(self, compose: Doc) -> None:
        """Every published port is bound to 127.0.0.1."""
        assert exposure_problems(compose) == []

    @pytest.mark.parametrize("ports", [["6379:6379"], [{"target": 6379, "published": 6379}]])
    def test_port_on_every_address_is_reported(self, tmp_path: Path, ports: list[object]) -> None:
        """A port published without an address (short or long syntax) is reported."""
        broken = broken_copy(tmp_path, COMPOSE_FILE, ("services", "redis", "ports"), ports)
        assert exposure_problems(broken) == [
            "service 'redis': publishes 6379/tcp on 0.0.0.0, not on 127.0.0.1"
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

    @pytest.mark.parametrize("service", ["pricing", "worker"])
    def test_other_services_wrong_endpoint_is_reported(
        self, tmp_path: Path, collector: Doc, service: str
    ) -> None:
        """pricing and the worker are held to the same rule as the app."""
        keys = ("services", service, "environment", "OTEL_EXPORTER_OTLP_ENDPOINT")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, "http://otel-collector:4317")
        assert app_endpoint_problems(broken, collector) == [
            f"service {service!r}: collector has no OTLP http receiver on 4317"
        ]


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
        broken = broken_dockerfile(tmp_path, "README.md", "README.rst")
        assert build_problems(broken, REPO) == [
            "service 'app': COPY source 'README.rst' does not exist"
        ]


def without(service: str, key: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """(keys, value) for broken_copy: *service*'s environment without *key*."""
    env = environment(load(COMPOSE_FILE)["services"][service])
    assert key in env, f"{service} sets no {key}"
    return ("services", service, "environment"), {k: v for k, v in env.items() if k != key}


class TestBuiltServicesExport:
    def test_real_services_export_under_own_names(self, compose: Doc) -> None:
        """app, pricing and worker export OTLP/HTTP, each under its own service name."""
        assert built_export_problems(compose, REPO) == []

    def test_missing_endpoint_is_reported(self, tmp_path: Path) -> None:
        """A service of the image without OTEL_EXPORTER_OTLP_ENDPOINT is reported."""
        broken = broken_copy(
            tmp_path, COMPOSE_FILE, *without("worker", "OTEL_EXPORTER_OTLP_ENDPOINT")
        )
        assert built_export_problems(broken, REPO) == [
            "service 'worker': no OTEL_EXPORTER_OTLP_ENDPOINT: no span leaves it"
        ]

    def test_grpc_protocol_is_reported(self, tmp_path: Path) -> None:
        """The image has the OTLP/HTTP exporter only: gRPC is reported."""
        keys = ("services", "pricing", "environment", "OTEL_EXPORTER_OTLP_PROTOCOL")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, "grpc")
        assert built_export_problems(broken, REPO) == [
            "service 'pricing': exports over 'grpc', not http/protobuf"
        ]

    def test_shared_service_name_is_reported(self, tmp_path: Path) -> None:
        """Two services under one name would merge in Jaeger: reported."""
        keys = ("services", "worker", "environment", "OTEL_SERVICE_NAME")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, "otel-context-example")
        assert built_export_problems(broken, REPO) == [
            "services 'app' and 'worker': same OTEL_SERVICE_NAME 'otel-context-example'"
        ]


GOOD_BROKER = "redis://redis:6379/0"


def differ(var: str, app: str, worker: str) -> str:
    return f"services 'app' and 'worker': {var} {app!r} != {worker!r}"


class TestBroker:
    def test_real_app_and_worker_share_the_redis_broker(self, compose: Doc) -> None:
        """The app queues on the redis service, where the worker consumes, on the same queue."""
        assert broker_problems(compose, REPO) == []

    @pytest.mark.parametrize(
        ("service", "key", "value", "expected"),
        [
            (
                "app",
                "EXAMPLE_BROKER_URL",
                "redis://localhost:6379/0",
                [
                    differ("EXAMPLE_BROKER_URL", "redis://localhost:6379/0", GOOD_BROKER),
                    "broker 'redis://localhost:6379/0': 'localhost' is not a compose service",
                ],
            ),
            (
                "worker",
                "EXAMPLE_BROKER_URL",
                "redis://redis:6380/0",
                [
                    differ("EXAMPLE_BROKER_URL", GOOD_BROKER, "redis://redis:6380/0"),
                    "broker 'redis://redis:6380/0': redis does not listen on 6380",
                ],
            ),
            (
                "worker",
                "EXAMPLE_TASK_QUEUE",
                "reports",
                [differ("EXAMPLE_TASK_QUEUE", "example", "reports")],
            ),
        ],
    )
    def test_mismatch_is_reported(
        self, tmp_path: Path, service: str, key: str, value: str, expected: list[str]
    ) -> None:
        """Another broker URL, a port redis does not listen on, or another queue is reported."""
        keys = ("services", service, "environment", key)
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, value)
        assert broker_problems(broken, REPO) == expected

    def test_broker_on_a_non_redis_service_is_reported(self, tmp_path: Path) -> None:
        """Both pointing at a service that is not Redis is reported once, for the URL."""
        url, source = "redis://jaeger:6379/0", COMPOSE_FILE
        for service in ("worker", "app"):
            keys = ("services", service, "environment", "EXAMPLE_BROKER_URL")
            broken = broken_copy(tmp_path, source, keys, url)
            source = tmp_path / COMPOSE_FILE.name
        assert broker_problems(broken, REPO) == [f"broker {url!r}: 'jaeger' is not a Redis service"]

    def test_worker_without_broker_url_is_reported(self, tmp_path: Path) -> None:
        """Without EXAMPLE_BROKER_URL the worker consumes from 127.0.0.1: its own container."""
        broken = broken_copy(tmp_path, COMPOSE_FILE, *without("worker", "EXAMPLE_BROKER_URL"))
        assert broker_problems(broken, REPO) == [
            differ("EXAMPLE_BROKER_URL", GOOD_BROKER, "redis://127.0.0.1:6379/0"),
            "broker 'redis://127.0.0.1:6379/0': '127.0.0.1' is not a compose service",
        ]

    def test_app_queueing_nothing_is_reported(self, tmp_path: Path) -> None:
        """An app without EXAMPLE_BROKER_URL queues no task: the worker idles."""
        broken = broken_copy(tmp_path, COMPOSE_FILE, *without("app", "EXAMPLE_BROKER_URL"))
        assert broker_problems(broken, REPO) == [
            "no service queues tasks: no other sets EXAMPLE_BROKER_URL"
        ]

    def test_missing_worker_is_reported(self, tmp_path: Path) -> None:
        """A worker service that does not run ``celery worker`` is reported."""
        command = ["gunicorn", "-c", "example/gunicorn.conf.py", "example.wsgi"]
        broken = broken_copy(tmp_path, COMPOSE_FILE, ("services", "worker", "command"), command)
        assert broker_problems(broken, REPO) == ["no service runs a Celery worker"]


class TestPricingUrl:
    def test_real_app_calls_pricing_on_its_port(self, compose: Doc) -> None:
        """The app's pricing URL is the pricing service, on the port it binds (Dockerfile ENV)."""
        assert pricing_url_problems(compose, REPO) == []

    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("http://pricing:8001", "pricing URL port 8001, pricing listens on 8000"),
            ("http://pricing", "pricing URL port 80, pricing listens on 8000"),
            ("http://pricng:8000", "pricing URL host 'pricng' is not a compose service"),
            ("http://app:8000", "'app' does not run example.pricing_settings"),
            ("http://redis:6379", "'redis' does not run example.pricing_settings"),
        ],
    )
    def test_wrong_url_is_reported(self, tmp_path: Path, url: str, expected: str) -> None:
        """Another port, an unknown host, or a service that is not pricing is reported."""
        keys = ("services", "app", "environment", "EXAMPLE_PRICING_URL")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, url)
        assert pricing_url_problems(broken, REPO) == [f"service 'app': {expected}"]

    def test_pricing_on_loopback_is_reported(self, tmp_path: Path) -> None:
        """pricing binding 127.0.0.1 (gunicorn.conf.py's default) is out of the app's reach."""
        keys = ("services", "pricing", "environment", "EXAMPLE_BIND")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, "127.0.0.1:8000")
        assert pricing_url_problems(broken, REPO) == [
            "service 'app': pricing listens on 127.0.0.1 only: other containers cannot reach it"
        ]

    def test_real_pricing_accepts_and_trusts_the_app(self, compose: Doc) -> None:
        """pricing serves Host ``pricing`` and trusts the stack's fixed subnet."""
        assert pricing_trust_problems(compose, REPO) == []

    def test_pricing_without_its_host_is_reported(self, tmp_path: Path) -> None:
        """Without ``pricing`` in ALLOWED_HOSTS every quote call gets a 400."""
        broken = broken_copy(
            tmp_path, COMPOSE_FILE, *without("pricing", "EXAMPLE_PRICING_ALLOWED_HOSTS")
        )
        assert pricing_trust_problems(broken, REPO) == [
            "service 'pricing': 'pricing' not in EXAMPLE_PRICING_ALLOWED_HOSTS (400)"
        ]

    def test_untrusted_network_is_reported(self, tmp_path: Path) -> None:
        """A subnet outside pricing's TRUSTED_NETWORKS drops the app's identifiers."""
        keys = ("networks", "default", "ipam", "config")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, [{"subnet": "10.9.0.0/16"}])
        assert pricing_trust_problems(broken, REPO) == [
            "service 'pricing': the stack's network 10.9.0.0/16 is not in its TRUSTED_NETWORKS"
        ]

    def test_missing_url_is_reported(self, tmp_path: Path) -> None:
        """An app without EXAMPLE_PRICING_URL is reported."""
        broken = broken_copy(tmp_path, COMPOSE_FILE, *without("app", "EXAMPLE_PRICING_URL"))
        assert pricing_url_problems(broken, REPO) == [
            "service 'app': no EXAMPLE_PRICING_URL: its quote view answers 503"
        ]


class TestDependsOn:
    def test_real_dependencies_are_services(self, compose: Doc) -> None:
        """Every depends_on entry names another service of the file."""
        assert depends_on_problems(compose) == []

    @pytest.mark.parametrize(
        ("service", "depends_on", "expected"),
        [
            (
                "app",
                ["otel-collector", "pricing", "broker"],
                "depends on 'broker', which is not a service",
            ),
            (
                "worker",
                {
                    "redis": {"condition": "service_started"},
                    "rabbitmq": {"condition": "service_started"},
                },
                "depends on 'rabbitmq', which is not a service",
            ),
            ("pricing", ["otel-collector", "pricing"], "depends on itself"),
        ],
    )
    def test_unknown_dependency_is_reported(
        self, tmp_path: Path, service: str, depends_on: object, expected: str
    ) -> None:
        """An unknown service (list or mapping syntax), or the service itself, is reported."""
        keys = ("services", service, "depends_on")
        broken = broken_copy(tmp_path, COMPOSE_FILE, keys, depends_on)
        assert depends_on_problems(broken) == [f"service {service!r}: {expected}"]


class TestImageInstalls:
    def test_real_image_installs_what_services_use(self, compose: Doc) -> None:
        """example/Dockerfile installs under constraints.txt, with [otlp], [requests], [celery]."""
        assert install_problems(compose, REPO) == []

    @pytest.mark.parametrize(
        ("old", "new", "expected"),
        [
            (".[otlp,requests,celery]", ".", ["otlp", "requests", "celery"]),
            (".[otlp,requests,celery]", ".[otlp,requests]", ["celery"]),
            (".[otlp,requests,celery]", ".[otlp,celery]", ["requests"]),
        ],
    )
    def test_missing_extra_is_reported(
        self, tmp_path: Path, old: str, new: str, expected: list[str]
    ) -> None:
        """The app needs [otlp] to export, [requests] for pricing, [celery] to queue tasks."""
        broken = broken_dockerfile(tmp_path, old, new)
        assert install_problems(broken, REPO) == [
            f"service 'app': Dockerfile does not install the [{extra}] extra" for extra in expected
        ]

    def test_install_without_constraints_is_reported(self, tmp_path: Path) -> None:
        """Installing off the release train of constraints.txt is reported."""
        broken = broken_dockerfile(tmp_path, "-c constraints.txt ", "")
        assert install_problems(broken, REPO) == [
            "service 'app': Dockerfile installs without constraints.txt"
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
            tmp_path, COMPOSE_FILE, ("services", "jaeger", "imagee"), "jaegertracing/jaeger:2.12.0"
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
        if any(kind_of(r) in {"filelog", "file_log"} for r in pipeline.get("receivers") or [])
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
