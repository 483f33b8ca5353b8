"""Figure B worker: one configuration, requests through Django's WSGI handler, µs per request.

Run as ``python -m benchmarks._wsgi_worker CONFIG WARMUP``; it speaks JSON lines on stdout.
It first checks one request's log events (so a broken set-up cannot be timed), warms up and
says ``ready``; then each line ``N`` on stdin times a block of N requests with a prebuilt
environ (no test client), and ``0`` ends it. The orchestrator keeps one worker per
configuration alive and hands out blocks in turn, so only one worker runs at a time.

CONFIG is one of ``_site.CONFIGS``. For figure C, an otel_context worker is also given the
STATEs (``benchmarks._toggles``) it will be asked for; it checks each, and a line
``STATE N`` switches to it before timing.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Final, TextIO

import django
import structlog
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from benchmarks._site import PATH, VIEW_EVENTS, Setup
from benchmarks._toggles import STATES, Toggles, problems

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from django.http import HttpResponse
    from opentelemetry.sdk.trace import ReadableSpan
    from structlog.typing import EventDict, Processor

Event = dict[str, Any]
#: Fields the floor processor adds (what otel_context adds in this view, as constants).
FLOOR_FIELDS: dict[str, object] = {
    "trace_id": "0" * 31 + "1",
    "span_id": "0" * 15 + "1",
    "trace_sampled": True,
    "correlation.id": "0" * 32,
    "organisation.id": "7",
    "project.id": "12",
}


class DropExporter(SpanExporter):
    """Drops every span; counts them and keeps the last one for the check."""

    def __init__(self) -> None:
        self.count = 0
        self.last: ReadableSpan | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        self.last = spans[-1]
        return SpanExportResult.SUCCESS


def add_floor_fields(logger: Any, method: str, event_dict: EventDict) -> EventDict:
    """Constant fields, as many as otel_context adds here: the cost of rendering them."""
    event_dict.update(FLOOR_FIELDS)
    return event_dict


#: A batch processor's delay that never runs out in a benchmark: it exports when flushed.
FLUSH_ONLY_DELAY_MS: Final = 86_400_000


def setup(
    spec: Setup, *, flush_only: bool = False
) -> tuple[WSGIHandler, TracerProvider | None, DropExporter | None]:
    """Configure Django (and tracing unless plain) and build the WSGI handler.

    With *flush_only*, the batch span processor exports only when flushed (or when 512
    spans are queued): its timer, which fires by wall-clock time, then adds no export to
    whichever block of a count runs when it fires.
    """
    settings.configure(**spec.settings())
    provider = exporter = None
    if spec.traced:
        exporter = DropExporter()
        provider = TracerProvider()
        delay = FLUSH_ONLY_DELAY_MS if flush_only else None
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=delay))
        trace.set_tracer_provider(provider)
    django.setup()  # "otel_context" in INSTALLED_APPS instruments Django here
    if spec.name in {"instrumentor", "django_structlog"}:
        from opentelemetry.instrumentation.django import DjangoInstrumentor  # noqa: PLC0415

        DjangoInstrumentor().instrument()
    return WSGIHandler(), provider, exporter


def configure_structlog(spec: Setup, stream: TextIO, *, cache: bool) -> None:
    """The bare pipeline, with otel_context's processor in the otel_context configuration."""
    extra: list[Processor] = []
    if spec.ours:
        from otel_context import StructlogOTelProcessor  # noqa: PLC0415

        extra.append(StructlogOTelProcessor())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *extra,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.WriteLoggerFactory(stream),
        cache_logger_on_first_use=cache,
    )


def base_environ() -> dict[str, Any]:
    """A GET of the view, as a WSGI server would pass it."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "HTTP_USER_AGENT": "benchmarks",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _write(data: bytes) -> None:
    """The body would go to the client here (Django returns it as an iterable instead)."""


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None, /
) -> Callable[[bytes], object]:
    """A WSGI server would write the status line and headers here."""
    return _write


def request(handler: WSGIHandler, environ: dict[str, Any]) -> HttpResponse:
    """One request: a fresh environ copy (middleware writes into it), body read, closed."""
    response = handler({**environ, "wsgi.input": io.BytesIO()}, _start_response)
    for _chunk in response:
        pass
    response.close()
    return response  # type: ignore[return-value]


def _expected(spec: Setup, span: ReadableSpan | None, response: HttpResponse) -> Event:
    """Fields every view event must carry."""
    ids = span.get_span_context() if span is not None else None
    if not spec.ours or ids is None:
        return {}
    expect: Event = {"trace_id": f"{ids.trace_id:032x}", "span_id": f"{ids.span_id:016x}"}
    expect["correlation.id"] = response.get("Correlation-Id")
    return expect | {"organisation.id": "7", "project.id": "12"}


def _field_problems(spec: Setup, view: list[Event], expect: Event) -> list[str]:
    problems = [
        f"{event['event']}: {key}={event.get(key)!r}"
        for event in view
        for key, value in expect.items()
        if event.get(key) != value
    ]
    if not expect:
        problems += [f"{event['event']}: has trace_id" for event in view if "trace_id" in event]
    if spec.name == "django_structlog":
        problems += [f"{e['event']}: no request_id" for e in view if "request_id" not in e]
    return problems


def check(
    spec: Setup,
    handler: WSGIHandler,
    provider: TracerProvider | None,
    exporter: DropExporter | None,
) -> list[str]:
    """Run one request with events captured; what is wrong with them (empty if right)."""
    stream = io.StringIO()
    configure_structlog(spec, stream, cache=False)
    response = request(handler, base_environ())
    if provider is not None:
        provider.force_flush()
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    view = [event for event in events if event["event"] in VIEW_EVENTS]
    problems = [] if len(view) == len(VIEW_EVENTS) else [f"{len(view)} view events"]
    if response.status_code != 200:
        problems.append(f"status {response.status_code}")
    span = exporter.last if exporter is not None else None
    if spec.traced and span is None:
        problems.append("no server span exported")
    return problems + _field_problems(spec, view, _expected(spec, span, response))


def timed(handler: WSGIHandler, count: int) -> float:
    """CPU seconds of the process (all its threads) per request over *count* requests."""
    environ = base_environ()
    start = time.process_time()
    for _ in range(count):
        request(handler, environ)
    return (time.process_time() - start) / count


def _say(**message: object) -> None:
    print(json.dumps(message), flush=True)


def _captured_request(
    handler: WSGIHandler, provider: TracerProvider, exporter: DropExporter
) -> tuple[list[Event], str | None, dict[str, str]]:
    """One request with its view events captured before the renderer; header; span ids."""
    captured: list[Event] = []

    def capture(logger: Any, method: str, event_dict: Event) -> Event:
        captured.append(dict(event_dict))
        return event_dict

    processors = structlog.get_config()["processors"]
    processors.insert(len(processors) - 1, capture)
    try:
        response = request(handler, base_environ())
    finally:
        processors.remove(capture)
    provider.force_flush()
    span: dict[str, str] = {}
    if exporter.last is not None and (ids := exporter.last.get_span_context()) is not None:
        span = {"trace_id": f"{ids.trace_id:032x}", "span_id": f"{ids.span_id:016x}"}
    view = [event for event in captured if event["event"] in VIEW_EVENTS]
    return view, response.get("Correlation-Id"), span


def check_states(
    toggles: Toggles,
    names: Sequence[str],
    handler: WSGIHandler,
    provider: Any,
    exporter: Any,
    *,
    left_out: frozenset[str] = frozenset(),
) -> list[str]:
    """Apply each state once and check one request in it.

    A state without otel_context's pieces (DjangoInstrumentor alone, the floors) must run none
    of otel_context's code: its Python functions called in the request are a problem.
    """
    found: list[str] = []
    for name in names:
        pieces = STATES[name]
        toggles.apply(pieces, left_out)
        ran: set[str] = set()
        watch = not pieces & {"propagator", "hooks", "middleware", "processor"}
        if watch:
            sys.setprofile(functools.partial(_note_ours, ran))
        try:
            view, cid, span = _captured_request(handler, provider, exporter)
        finally:
            sys.setprofile(None)
        found += [f"{name}: {problem}" for problem in problems(pieces, view, cid, span)]
        found += [f"{name}: otel_context ran {function}" for function in sorted(ran)]
    return found


def _note_ours(ran: set[str], frame: Any, event: str, arg: object) -> None:
    """A profile function: note each of otel_context's Python functions called."""
    if event == "call" and frame.f_globals.get("__name__", "").startswith("otel_context"):
        ran.add(f"{frame.f_globals['__name__']}.{frame.f_code.co_name}")


def serve(handler: WSGIHandler, lines: Iterable[str], toggles: Toggles | None) -> int:
    """Time a block for each line ``N`` or ``STATE N``; stop at ``0``. Requests timed."""
    total = 0
    for line in lines:
        *state, count_text = line.split()
        count = int(count_text)
        if count <= 0:
            break
        if state and toggles is not None:
            toggles.apply(STATES[state[0]])
        _say(us_per_request=timed(handler, count) * 1e6)
        total += count
    return total


def main(argv: Sequence[str]) -> int:
    """Check and warm up; then serve blocks from stdin; at the end report exported spans."""
    if len(argv) not in {2, 3}:
        msg = "usage: python -m benchmarks._wsgi_worker CONFIG WARMUP [STATE,...]"
        raise SystemExit(msg)
    spec, warmup = Setup.parse(argv[0]), int(argv[1])
    states = argv[2].split(",") if len(argv) == 3 else []
    handler, provider, exporter = setup(spec)
    found = check(spec, handler, provider, exporter)
    with open(os.devnull, "w") as devnull:  # noqa: PTH123
        configure_structlog(spec, devnull, cache=True)
        toggles = Toggles(handler, add_floor_fields) if states else None
        if toggles is not None:
            found += check_states(toggles, states, handler, provider, exporter)
        if found:
            _say(config=spec.name, error=found)
            return 1
        timed(handler, warmup)
        _say(config=spec.name, ready=True)
        total = serve(handler, sys.stdin, toggles)
    missing = 0
    if provider is not None and exporter is not None:
        provider.force_flush()
        missing = 1 + len(states) + warmup + total - exporter.count
    _say(spans_missing=missing)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
