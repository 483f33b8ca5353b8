"""The trace follows the lines, through the real collector into the real Jaeger (issue 24.3).

The example service runs under gunicorn with head sampling off for every request
(``parentbased_always_off``, and an inbound ``traceparent`` saying "not sampled"), the flight
recorder on, and ``KEEP_NOTABLE_TRACES`` on. It exports over OTLP/HTTP to the collector built
from collector/builder-config.yaml, which forwards to Jaeger v2. A failing (500) and a slow
request of a sampled-out trace have every line written and their spans found through Jaeger's
query API, the root saying why (``trace.kept``); an ordinary one has neither; a sampled one,
the control, is in Jaeger with its lines written as they came. The ``tail_sampling`` snippet of
docs/sampling.md is valid for the processor (``jaeger validate``).
"""

from __future__ import annotations

import secrets
import subprocess
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests

from example.backend import running_backend
from example.runner import REPO_DIR
from tests._servers import read_json_lines, running_gunicorn
from tests.integration._collector import tags
from tests.integration._load import TIMEOUT

if TYPE_CHECKING:
    from pathlib import Path

    from example.backend import Backend, Binaries
    from tests._servers import ServiceFiles

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SERVICE = "keep-example"
LINES = 20
#: name -> (query string of /api/v1/chatter/, sampled, expected status, trace kept because)
MIX: dict[str, tuple[str, bool, int, str | None]] = {
    "failing": ("fail=1", False, 500, "error"),
    "slow": ("sleep_ms=1500", False, 200, "slow"),
    "fine": ("", False, 200, None),
    "sampled": ("", True, 200, None),
}
ENV = {
    "OTEL_SERVICE_NAME": SERVICE,
    "OTEL_TRACES_SAMPLER": "parentbased_always_off",
    "OTEL_CONTEXT_UNSAMPLED_LOG_RATIO": "0",
    "OTEL_CONTEXT_HOLD_LINES": "true",
    "OTEL_CONTEXT_HOLD_SLOW_MS": "800",
    "OTEL_CONTEXT_KEEP_NOTABLE_TRACES": "true",
}


@dataclass
class Call:
    """One request of the mix: its trace, its correlation id, what Jaeger holds of it."""

    name: str
    trace_id: str
    correlation_id: str
    status: int
    lines: list[dict[str, Any]]
    trace: dict[str, Any] | None = None

    def root(self) -> dict[str, Any]:
        assert self.trace is not None, self.name
        (server,) = [s for s in self.trace["spans"] if tags(s["tags"]).get("span.kind") == "server"]
        return server


def _call(base_url: str, name: str) -> tuple[str, str, int]:
    query, sampled, _status, _why = MIX[name]
    trace_id, correlation_id = secrets.token_hex(16), f"keep-{uuid.uuid4().hex}"
    headers = {
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-0{int(sampled)}",
        "Correlation-Id": correlation_id,
    }
    url = f"{base_url}/api/v1/chatter/?lines={LINES}&{query}"
    return trace_id, correlation_id, requests.get(url, headers=headers, timeout=TIMEOUT).status_code


def _run(backend: Backend, files: ServiceFiles) -> dict[str, Call]:
    env = {**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": backend.otlp_endpoint}
    called: dict[str, tuple[str, str, int]] = {}
    with running_gunicorn(files, workers=1, threads=2, env=env) as service:
        for name in MIX:
            called[name] = _call(service.base_url, name)
    assert service.process.returncode == 0, service.stderr()  # stopped: spans flushed
    lines = read_json_lines(files.log_file)
    return {
        name: Call(
            name, trace_id, cid, status, [x for x in lines if x.get("correlation.id") == cid]
        )
        for name, (trace_id, cid, status) in called.items()
    }


@pytest.fixture(scope="module")
def calls(
    go_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory, example_db_template: Path
) -> dict[str, Call]:
    from tests._servers import service_files

    directory = tmp_path_factory.mktemp("trace-keeping")
    files = service_files(directory / "service", example_db_template)
    with running_backend(go_binaries, directory / "backend") as backend:
        result = _run(backend, files)
        for call in result.values():
            if MIX[call.name][3] is not None or MIX[call.name][1]:
                call.trace = backend.wait_for_trace(call.trace_id, timeout=30)
        # The kept and sampled traces arrived: an ordinary one would have by now too.
        result["fine"].trace = backend.trace(result["fine"].trace_id)
    return result


class TestTraceKeepingInJaeger:
    def test_every_request_answered_as_it_should(self, calls: dict[str, Call]) -> None:
        assert {name: call.status for name, call in calls.items()} == {
            name: status for name, (_q, _s, status, _w) in MIX.items()
        }

    @pytest.mark.parametrize("name", ["failing", "slow"])
    def test_a_notable_sampled_out_request_keeps_its_spans_and_says_why(
        self, calls: dict[str, Call], name: str
    ) -> None:
        """In Jaeger, though head sampling dropped it: the root says why it was kept."""
        call = calls[name]
        root = tags(call.root()["tags"])
        assert root["trace.kept"] == MIX[name][3]
        assert root["log.held.written"] == MIX[name][3]  # the flight recorder's same decision
        assert {p["serviceName"] for p in call.trace["processes"].values()} == {SERVICE}  # type: ignore[index]

    @pytest.mark.parametrize("name", ["failing", "slow"])
    def test_a_notable_sampled_out_request_writes_every_line(
        self, calls: dict[str, Call], name: str
    ) -> None:
        """All 20 of its lines (19 held INFO, then the WARNING) name spans Jaeger has."""
        call = calls[name]
        chatter = [x for x in call.lines if x["event"].startswith("chatter.")]
        assert len(chatter) == LINES, call.lines
        assert sum(x.get("log.held") is True for x in chatter) == LINES - 1
        assert {x["trace_id"] for x in call.lines} == {call.trace_id}
        stored = {span["spanID"] for span in call.trace["spans"]}  # type: ignore[index]
        assert {x["span_id"] for x in call.lines} <= stored

    def test_an_ordinary_sampled_out_request_is_not_in_jaeger(self, calls: dict[str, Call]) -> None:
        """Fine and fast: its spans are dropped and only its WARNING is written."""
        call = calls["fine"]
        assert call.trace is None
        assert [x["event"] for x in call.lines] == ["chatter.done"]

    def test_a_sampled_request_is_exported_as_always(self, calls: dict[str, Call]) -> None:
        """The control: in Jaeger, not marked kept, its lines written as they came."""
        call = calls["sampled"]
        assert "trace.kept" not in tags(call.root()["tags"])
        assert len(call.lines) == LINES
        assert not any("log.held" in x for x in call.lines)


def _tail_sampling_snippet() -> str:
    """The ``processors:`` block docs/sampling.md shows after its tail-sampling marker."""
    text = (REPO_DIR / "docs" / "sampling.md").read_text()
    after = text.split("<!-- tail-sampling:", 1)[1]
    return after.split("```yaml\n", 1)[1].split("```", 1)[0]


class TestTheTailSamplingSnippet:
    def test_the_documented_config_is_valid_for_the_tail_sampling_processor(
        self, go_binaries: Binaries, tmp_path: Path
    ) -> None:
        """``jaeger validate`` (Jaeger v2 bundles the processor) accepts it in a pipeline.

        The check can fail: a key the processor does not know (``'' has invalid keys``) is
        refused, as the second config shows.
        """
        pipeline = (
            "receivers: {otlp: {protocols: {http: {endpoint: '127.0.0.1:0'}}}}\n"
            "exporters: {debug: {}}\n"
            "service: {pipelines: {traces: "
            "{receivers: [otlp], processors: [tail_sampling], exporters: [debug]}}}\n"
        )
        snippet = _tail_sampling_snippet()
        for name, body, valid in (
            ("documented", snippet, True),
            ("broken", snippet.replace("decision_wait:", "decision_wait_s:"), False),
        ):
            config = tmp_path / f"{name}.yaml"
            config.write_text(body + pipeline)
            checked = subprocess.run(
                [str(go_binaries.jaeger), "validate", f"--config={config}"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert (checked.returncode == 0) is valid, (name, checked.stderr[-2000:])
