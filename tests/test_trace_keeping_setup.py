"""KEEP_NOTABLE_TRACES: the providers otel_context sets up keep a sampled-out notable trace.

``configure_providers()`` (and the provider set up at the first request, which calls it) wraps
the sampler in ``RecordSampledOut`` and adds ``KeepNotableTraces`` before its exporter; a
provider set up elsewhere cannot be wrapped, which the start-up warning and W011 say.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from otel_context import conf
from otel_context.django.checks import check_trace_keeping
from otel_context.sdk import _default_provider as _default_providers
from otel_context.sdk import providers as providers_module
from otel_context.sdk.providers import Providers, configure_providers, shutdown_providers
from otel_context.trace_keeping import (
    TRACE_KEPT,
    RecordSampledOut,
    keeping_sampler,
    provider_problem,
)
from tests.otlp_receiver import fresh_global_providers

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

OTEL_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_CONTEXT_SPAN_FILE",
    "OTEL_CONTEXT_SET_UP_PROVIDERS",
)


@pytest.fixture
def keep(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Head sampling drops every trace; KEEP_NOTABLE_TRACES on, slow beyond 30 ms."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_off")
    monkeypatch.setenv("OTEL_CONTEXT_KEEP_NOTABLE_TRACES", "true")
    monkeypatch.setenv("OTEL_CONTEXT_HOLD_SLOW_MS", "30")
    conf.reset()
    yield
    monkeypatch.undo()
    conf.reset()


def _request(provider: trace.TracerProvider, status: int, pause: float = 0.0) -> str:
    """A server span with a child, answering *status*; returns its trace id (hex)."""
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER) as server:
        with tracer.start_as_current_span("db"):
            time.sleep(pause)
        server.set_attribute("http.response.status_code", status)
    return f"{server.get_span_context().trace_id:032x}"


def _exported(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _run_mix(result: Providers, path: Path) -> dict[str, list[dict[str, Any]]]:
    """A fine, a failing and a slow request; their exported spans by name of request."""
    provider = result.tracer_provider
    ids = {"fine": _request(provider, 200), "failing": _request(provider, 500)}
    ids["slow"] = _request(provider, 200, pause=0.06)
    assert shutdown_providers(timeout_s=5, providers=result)
    spans = _exported(path)
    return {
        name: [s for s in spans if s["context"]["trace_id"] == f"0x{trace_id}"]
        for name, trace_id in ids.items()
    }


@pytest.mark.usefixtures("keep")
class TestConfigureProviders:
    def test_a_failing_and_a_slow_request_are_kept_a_fine_one_is_not(self, tmp_path: Path) -> None:
        """Sampled out at the head: the 500's and the slow request's spans reach the file."""
        path = tmp_path / "spans.jsonl"
        result = configure_providers(set_global=False, span_file=str(path))
        assert isinstance(result.tracer_provider, TracerProvider)
        assert isinstance(result.tracer_provider.sampler, RecordSampledOut)
        assert len(result.exporters) == 2  # the batch processor's, and the keeper's (shutdown)
        by_request = _run_mix(result, path)
        assert by_request["fine"] == []
        for name, why in (("failing", "error"), ("slow", "slow")):
            spans = {s["name"]: s for s in by_request[name]}
            assert set(spans) == {"GET /", "db"}, name
            assert spans["GET /"]["attributes"][TRACE_KEPT] == why  # the decision, on the span
            assert TRACE_KEPT not in spans["db"]["attributes"]

    def test_off_nothing_is_recorded_or_kept(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """KEEP_NOTABLE_TRACES false: the sampler is the head sampler's, nothing is exported."""
        monkeypatch.setenv("OTEL_CONTEXT_KEEP_NOTABLE_TRACES", "false")
        conf.reset()
        path = tmp_path / "spans.jsonl"
        result = configure_providers(set_global=False, span_file=str(path))
        assert not isinstance(result.tracer_provider.sampler, RecordSampledOut)  # type: ignore[attr-defined]
        assert len(result.exporters) == 1
        assert all(spans == [] for spans in _run_mix(result, path).values())

    def test_a_provider_set_elsewhere_gets_a_warning_saying_how(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """opentelemetry-instrument's (or the app's) provider is left alone, with the recipe."""
        with fresh_global_providers():
            theirs = TracerProvider(shutdown_on_exit=False)
            trace.set_tracer_provider(theirs)
            with caplog.at_level(logging.WARNING, logger="otel_context.trace_keeping"):
                assert configure_providers().tracer_provider is theirs
        (record,) = caplog.records
        assert "KEEP_NOTABLE_TRACES is on" in record.getMessage()
        assert "RecordSampledOut(<your sampler>)" in record.getMessage()


@pytest.mark.usefixtures("keep")
class TestDefaultProviders:
    def test_the_provider_set_up_at_the_first_request_keeps(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """SPAN_FILE and KEEP_NOTABLE_TRACES: the first request's set-up keeps a failed one."""
        path = tmp_path / "spans.jsonl"
        monkeypatch.setenv("OTEL_CONTEXT_SPAN_FILE", str(path))
        conf.reset()
        with fresh_global_providers():
            monkeypatch.setattr(_default_providers, "armed", True)
            _default_providers.set_up()
            assert "sampler=RecordSampledOut{" in capsys.readouterr().err
            result = providers_module._configured
            assert result is not None
            by_request = _run_mix(result, path)
        assert [s["name"] for s in by_request["failing"]] == ["db", "GET /"]
        assert by_request["fine"] == []

    def test_a_provider_set_elsewhere_is_named_at_the_first_request(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """No check runs under gunicorn: the first request's decision says it, once."""
        with fresh_global_providers():
            theirs = TracerProvider(shutdown_on_exit=False)
            trace.set_tracer_provider(theirs)
            monkeypatch.setattr(_default_providers, "armed", True)
            with caplog.at_level(logging.WARNING, logger="otel_context.trace_keeping"):
                _default_providers.set_up()
                _default_providers.set_up()
            assert trace.get_tracer_provider() is theirs
        (record,) = caplog.records
        assert "cannot wrap it" in record.getMessage()


@pytest.mark.usefixtures("keep")
class TestProblems:
    def test_a_foreign_sampler_is_a_problem_ours_or_by_hand_is_not(self) -> None:
        """Only a provider whose sampler records what it drops can keep traces."""
        plain = TracerProvider(shutdown_on_exit=False)
        wrapped = TracerProvider(sampler=keeping_sampler(plain.sampler), shutdown_on_exit=False)
        problem = provider_problem(plain)
        assert problem is not None
        assert "cannot wrap it" in problem
        assert provider_problem(wrapped) is None
        assert provider_problem(trace.ProxyTracerProvider()) is None  # set up later, by us

    def test_keeping_sampler_wraps_once_and_only_when_on(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """On: wrapped once; off: the sampler as it is."""
        sampler = TracerProvider(shutdown_on_exit=False).sampler
        wrapped = keeping_sampler(sampler)
        assert isinstance(wrapped, RecordSampledOut)
        assert keeping_sampler(wrapped) is wrapped
        monkeypatch.setenv("OTEL_CONTEXT_KEEP_NOTABLE_TRACES", "false")
        conf.reset()
        assert keeping_sampler(sampler) is sampler
        assert provider_problem(TracerProvider(shutdown_on_exit=False)) is None

    def test_w011_for_a_provider_it_cannot_wrap(self) -> None:
        """manage.py check: the warning names the problem and says how to add it by hand."""
        with fresh_global_providers():
            trace.set_tracer_provider(TracerProvider(shutdown_on_exit=False))
            (message,) = check_trace_keeping()
        assert message.id == "otel_context.W011"
        assert "KeepNotableTraces(" in str(message.hint)
        with fresh_global_providers():
            assert check_trace_keeping() == []  # nothing set yet: ours will be
