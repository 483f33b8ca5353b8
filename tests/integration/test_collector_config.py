"""Every shipped collector config, validated by the real collector (``otelcol validate``).

The collector is the distribution of collector/builder-config.yaml, built from its Go modules at
the release docker-compose.yml pins (``make collector``; the ``go_binaries`` fixture). Checked:
otel-collector.yaml alone, with the filelog overlay, the file docker-compose.yml mounts into the
collector, and collector/jaeger.yaml with the real Jaeger v2. Each one's broken copies (an
unknown exporter, a pipeline naming an undefined component) must fail the same command, naming
what is wrong. The configs are validated as shipped, with their ``${env:…:-default}``
placeholders at their defaults (what the compose stack runs).
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from example.backend import (
    COLLECTOR_CONFIG,
    FILELOG_CONFIG,
    JAEGER_CONFIG,
    REPO_DIR,
    BackendUnavailableError,
    build_binaries,
)

if TYPE_CHECKING:
    from pathlib import Path

    from example.backend import Binaries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]  # a cold build: minutes

COMPOSE_FILE = REPO_DIR / "docker-compose.yml"
#: The components builder-config.yaml builds in, by kind (what ``otelcol components`` lists).
BUILT = {
    "receivers": {"otlp", "file_log"},
    "processors": {"batch", "memory_limiter"},
    "exporters": {"debug", "otlp_grpc", "otlp_http", "file"},
    "extensions": {"health_check", "file_storage"},
}


def validate(binary: Path, *configs: Path) -> subprocess.CompletedProcess[str]:
    """``<binary> validate --config=… …`` with the configs' env placeholders at their defaults."""
    return subprocess.run(
        [str(binary), "validate", *(f"--config={config}" for config in configs)],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(REPO_DIR)},
    )


def edited(tmp_path: Path, source: Path, edit: Any) -> Path:
    """A copy of *source* in tmp_path after ``edit(doc)``; placeholders are kept as written."""
    doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    edit(doc)
    target = tmp_path / source.name
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def compose_collector_config() -> Path:
    """The host file docker-compose.yml mounts where the collector's --config points."""
    service = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]["otel-collector"]
    (flag,) = [arg for arg in service["command"] if arg.startswith("--config=")]
    target = flag.partition("=")[2]
    mounts = {
        volume.split(":")[1]: volume.split(":")[0]
        for volume in service["volumes"]
        if volume.startswith(".")
    }
    return REPO_DIR / mounts[target]


def add_unknown_exporter(doc: dict[str, Any]) -> None:
    """An exporter this distribution does not have (zipkin), defined and used."""
    doc["exporters"]["zipkin"] = {"endpoint": "http://jaeger:9411/api/v2/spans"}
    doc["service"]["pipelines"]["traces"]["exporters"].append("zipkin")


def name_undefined_exporter(doc: dict[str, Any]) -> None:
    """The logs pipeline names an exporter that is not defined."""
    doc["service"]["pipelines"]["logs"]["exporters"].append("file/missing")


def name_undefined_processor_in_overlay(doc: dict[str, Any]) -> None:
    doc["service"]["pipelines"]["logs/filelog"]["processors"].append("batch/missing")


def name_undefined_receiver_in_jaeger(doc: dict[str, Any]) -> None:
    doc["service"]["pipelines"]["traces"]["receivers"].append("otlp/missing")


def add_unknown_exporter_to_jaeger(doc: dict[str, Any]) -> None:
    doc["exporters"]["no_such_exporter"] = {}
    doc["service"]["pipelines"]["traces"]["exporters"].append("no_such_exporter")


class TestTheDistribution:
    def test_it_has_the_components_the_configs_use(self, go_binaries: Binaries) -> None:
        """``otelcol components`` lists what the manifest builds, under these names."""
        done = subprocess.run(
            [str(go_binaries.otelcol), "components"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        listed = yaml.safe_load(done.stdout)
        for kind, names in BUILT.items():
            assert {entry["name"] for entry in listed[kind]} == names, kind
        assert listed["buildinfo"]["version"] == "0.159.0"


class TestShippedConfigsAreValid:
    def test_the_base_config(self, go_binaries: Binaries) -> None:
        done = validate(go_binaries.otelcol, COLLECTOR_CONFIG)
        assert done.returncode == 0, done.stderr

    def test_the_filelog_overlay_on_the_base(self, go_binaries: Binaries) -> None:
        done = validate(go_binaries.otelcol, COLLECTOR_CONFIG, FILELOG_CONFIG)
        assert done.returncode == 0, done.stderr

    def test_the_config_docker_compose_mounts(self, go_binaries: Binaries) -> None:
        mounted = compose_collector_config()
        assert mounted == COLLECTOR_CONFIG
        done = validate(go_binaries.otelcol, mounted)
        assert done.returncode == 0, done.stderr

    def test_the_jaeger_config(self, go_binaries: Binaries) -> None:
        done = validate(go_binaries.jaeger, JAEGER_CONFIG)
        assert done.returncode == 0, done.stderr


class TestBrokenCopiesFail:
    @pytest.mark.parametrize(
        ("edit", "expected"),
        [
            (add_unknown_exporter, "zipkin"),
            (name_undefined_exporter, "file/missing"),
        ],
    )
    def test_the_base_config(
        self, go_binaries: Binaries, tmp_path: Path, edit: Any, expected: str
    ) -> None:
        done = validate(go_binaries.otelcol, edited(tmp_path, COLLECTOR_CONFIG, edit))
        assert done.returncode != 0
        assert expected in done.stderr

    @pytest.mark.parametrize(
        ("edit", "expected"),
        [
            (add_unknown_exporter, "zipkin"),
            (name_undefined_exporter, "file/missing"),
        ],
    )
    def test_the_base_config_under_the_overlay(
        self, go_binaries: Binaries, tmp_path: Path, edit: Any, expected: str
    ) -> None:
        broken = edited(tmp_path, COLLECTOR_CONFIG, edit)
        done = validate(go_binaries.otelcol, broken, FILELOG_CONFIG)
        assert done.returncode != 0
        assert expected in done.stderr

    def test_the_overlay(self, go_binaries: Binaries, tmp_path: Path) -> None:
        broken = edited(tmp_path, FILELOG_CONFIG, name_undefined_processor_in_overlay)
        done = validate(go_binaries.otelcol, COLLECTOR_CONFIG, broken)
        assert done.returncode != 0
        assert "batch/missing" in done.stderr

    def test_the_overlay_with_an_unknown_operator(
        self, go_binaries: Binaries, tmp_path: Path
    ) -> None:
        """The filelog operators are checked too: a made-up operator type fails."""

        def edit(doc: dict[str, Any]) -> None:
            doc["receivers"]["file_log"]["operators"].append({"type": "no_such_operator"})

        done = validate(
            go_binaries.otelcol, COLLECTOR_CONFIG, edited(tmp_path, FILELOG_CONFIG, edit)
        )
        assert done.returncode != 0
        assert "no_such_operator" in done.stderr

    @pytest.mark.parametrize(
        ("edit", "expected"),
        [
            (add_unknown_exporter_to_jaeger, "no_such_exporter"),
            (name_undefined_receiver_in_jaeger, "otlp/missing"),
        ],
    )
    def test_the_jaeger_config(
        self, go_binaries: Binaries, tmp_path: Path, edit: Any, expected: str
    ) -> None:
        done = validate(go_binaries.jaeger, edited(tmp_path, JAEGER_CONFIG, edit))
        assert done.returncode != 0
        assert expected in done.stderr


class TestEnvironmentOverrides:
    def test_an_endpoint_from_the_environment_is_used(
        self, go_binaries: Binaries, tmp_path: Path
    ) -> None:
        """OTELCOL_* really reach the config: a bad value through the environment fails."""
        done = subprocess.run(
            [str(go_binaries.otelcol), "validate", f"--config={COLLECTOR_CONFIG}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PATH": "/usr/bin:/bin", "OTELCOL_DEBUG_VERBOSITY": "loud"},
        )
        assert done.returncode != 0
        assert "loud" in done.stderr


class TestWithoutGo:
    def test_the_build_says_there_is_no_toolchain(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """No Go: a clear error (the fixture skips on it, or fails under CI=true), no build."""
        monkeypatch.setenv("OTEL_CONTEXT_GO", str(tmp_path / "no-go" / "go"))
        monkeypatch.setenv("OTEL_CONTEXT_GO_CACHE", str(tmp_path / "cache"))
        with pytest.raises(BackendUnavailableError, match="no Go toolchain"):
            build_binaries()
        assert not (tmp_path / "cache").exists()
