"""collector/otel-collector-filelog.yaml's operators, applied to the example's real log lines.

No collector binary is needed: this module reads the filelog receiver's operator list from the
YAML and applies it with the stanza semantics it uses (json_parser with embedded timestamp and
severity, add, trace_parser, move, remove; semantics from opentelemetry-collector-contrib's
pkg/stanza/operator/helper). An operator type or layout it does not know fails the test rather
than being skipped. The lines come from the example app (``example.settings``) serving a few
requests through Django's test client in a subprocess, with the example's TracerProvider.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from example.runner import REPO_DIR, ServiceFiles, prepare_database, read_json_lines, service_env

FILELOG_FILE = REPO_DIR / "collector" / "otel-collector-filelog.yaml"
#: stanza's built-in severity names (preset "default"), OTel severity numbers.
BUILTIN_SEVERITIES = {
    "trace": 1,
    "debug": 5,
    "info": 9,
    "warn": 13,
    "warning": 13,
    "error": 17,
    "err": 17,
    "fatal": 21,
}
#: Go reference-time tokens -> regex groups; longest first. Only what our layouts use.
GO_LAYOUT_TOKENS = (
    ("Z07:00", r"(?P<zone>Z|[+-]\d\d:\d\d)"),
    (".999999999", r"(?:\.(?P<fraction>\d{1,9}))?"),
    (".999999", r"(?:\.(?P<fraction>\d{1,6}))?"),
    ("2006", r"(?P<year>\d{4})"),
    ("01", r"(?P<month>\d\d)"),
    ("02", r"(?P<day>\d\d)"),
    ("15", r"(?P<hour>\d\d)"),
    ("04", r"(?P<minute>\d\d)"),
    ("05", r"(?P<second>\d\d)"),
)
_GENERATE = """
import structlog
from django.test import Client
from opentelemetry import trace

from example.app import demo_data
from example.tracing import setup_tracing, shutdown

provider = setup_tracing(warn=print, shutdown_on_exit=False)
import django

django.setup()
client = Client(raise_request_exception=False)
token = {"HTTP_AUTHORIZATION": "Token " + demo_data.user_token("alice")}
client.get("/api/v1/organisations/1/projects/1/", HTTP_CORRELATION_ID="filelog-1", **token)
client.get(f"/api/v1/environments/{demo_data.ENVIRONMENT_API_KEY}/flags/", **token)
sdk = {"HTTP_X_ENVIRONMENT_KEY": demo_data.ENVIRONMENT_API_KEY}
client.get("/api/v1/sdk/flags/?identifier=user-7", **sdk)
client.get("/api/v1/sdk/flags/", HTTP_X_ENVIRONMENT_KEY="unknown")
client.get("/api/v1/boom/", **token)
with trace.get_tracer("filelog-test").start_as_current_span("nightly.job"):
    log = structlog.get_logger("filelog-test")
    log.warning("job.slow", seconds=12)
    log.critical("job.failed")
shutdown(provider)
"""


# ---------------------------------------------------------------- the stanza subset


@dataclass
class Record:
    """A log record as the filelog receiver builds it (the fields these operators touch)."""

    body: Any
    attributes: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None
    severity_number: int = 0
    severity_text: str = ""
    trace_id: bytes | None = None
    span_id: bytes | None = None
    trace_flags: bytes | None = None


def _field(path: str) -> tuple[str, str | None]:
    """``body``, ``attributes.name`` or ``attributes["dotted.name"]`` -> (root, key)."""
    match = re.fullmatch(r'(body|attributes)(?:\.(\w+)|\["([^"]+)"\])?', path)
    if match is None:
        msg = f"field syntax not supported here: {path!r}"
        raise NotImplementedError(msg)
    return match.group(1), match.group(2) or match.group(3)


def get(record: Record, path: str) -> Any:
    root, key = _field(path)
    container = record.body if root == "body" else record.attributes
    if key is None:
        return container
    return container.get(key) if isinstance(container, dict) else None


def _pop(record: Record, path: str) -> Any:
    root, key = _field(path)
    if key is None or root != "attributes":
        msg = f"only attributes.<key> can be moved or removed here: {path!r}"
        raise NotImplementedError(msg)
    if key not in record.attributes:
        msg = f"{path} does not exist"
        raise KeyError(msg)
    return record.attributes.pop(key)


def go_time(value: str, layout: str) -> datetime:
    """Parse *value* with a Go reference-time *layout* (the tokens in GO_LAYOUT_TOKENS)."""
    pattern, rest = "", layout
    while rest:
        for token, regex in GO_LAYOUT_TOKENS:
            if rest.startswith(token):
                pattern, rest = pattern + regex, rest[len(token) :]
                break
        else:
            if rest[0].isdigit():
                msg = f"Go layout token not supported here: {rest!r}"
                raise NotImplementedError(msg)
            pattern, rest = pattern + re.escape(rest[0]), rest[1:]
    match = re.fullmatch(pattern, value)
    if match is None:
        msg = f"{value!r} does not match layout {layout!r}"
        raise ValueError(msg)
    parts = match.groupdict()
    zone = parts["zone"]
    offset = timedelta() if zone == "Z" else timedelta(hours=int(zone[1:3]), minutes=int(zone[4:]))
    return datetime(
        int(parts["year"]),
        int(parts["month"]),
        int(parts["day"]),
        int(parts["hour"]),
        int(parts["minute"]),
        int(parts["second"]),
        int(((parts.get("fraction") or "0") + "000000")[:6]),
        tzinfo=timezone(-offset if zone.startswith("-") else offset),
    )


def _parse_timestamp(record: Record, spec: dict[str, Any]) -> None:
    if spec.get("layout_type", "strptime") != "gotime":
        msg = f"layout_type {spec.get('layout_type')!r} not supported here"
        raise NotImplementedError(msg)
    record.timestamp = go_time(get(record, spec["parse_from"]), spec["layout"])


def _parse_severity(record: Record, spec: dict[str, Any]) -> None:
    if spec.get("preset", "default") != "default":
        msg = "only the default severity preset is supported here"
        raise NotImplementedError(msg)
    mapping = dict(BUILTIN_SEVERITIES)
    for name, values in (spec.get("mapping") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            mapping[str(value).lower()] = BUILTIN_SEVERITIES[name]
    text = get(record, spec["parse_from"])
    record.severity_text = text
    record.severity_number = mapping.get(str(text).lower(), 0)  # 0: stanza's "default"


def json_parser(record: Record, op: dict[str, Any]) -> None:
    if op.get("parse_from", "body") != "body" or op.get("parse_to", "attributes") != "attributes":
        msg = "json_parser: only body -> attributes is supported here"
        raise NotImplementedError(msg)
    record.attributes.update(json.loads(record.body))
    if "timestamp" in op:
        _parse_timestamp(record, op["timestamp"])
    if "severity" in op:
        _parse_severity(record, op["severity"])


def trace_parser(record: Record, op: dict[str, Any]) -> None:
    """Best-effort hex, like stanza: a missing field leaves that id unset."""
    for name in ("trace_id", "span_id", "trace_flags"):
        value = get(record, op.get(name, {}).get("parse_from", f"body.{name}"))
        setattr(record, name, None if value is None else bytes.fromhex(str(value)))


def add(record: Record, op: dict[str, Any]) -> None:
    root, key = _field(op["field"])
    value = op["value"]
    if root != "attributes" or key is None or not isinstance(value, str) or "EXPR(" in value:
        msg = "add: only a constant string to attributes.<key> is supported here"
        raise NotImplementedError(msg)
    record.attributes[key] = value


def move(record: Record, op: dict[str, Any]) -> None:
    value = _pop(record, op["from"])
    if op["to"] != "body":
        msg = "move: only to body is supported here"
        raise NotImplementedError(msg)
    record.body = value


def remove(record: Record, op: dict[str, Any]) -> None:
    _pop(record, op["field"])


OPERATORS = {
    "json_parser": json_parser,
    "add": add,
    "trace_parser": trace_parser,
    "move": move,
    "remove": remove,
}


def _condition_holds(record: Record, expression: str | None) -> bool:
    if expression is None:
        return True
    match = re.fullmatch(r"\s*(\S+)\s*!=\s*nil\s*", expression)
    if match is not None:
        return get(record, match.group(1)) is not None
    match = re.fullmatch(r"\s*(\S+)\s*==\s*(true|false)\s*", expression)
    if match is None:
        msg = f"if-expression not supported here: {expression!r}"
        raise NotImplementedError(msg)
    return get(record, match.group(1)) is (match.group(2) == "true")  # expr: no coercion


def apply(operators: list[dict[str, Any]], line: str) -> Record:
    """Run one raw line through *operators*, as the filelog receiver would."""
    record = Record(body=line)
    for op in operators:
        if op["type"] not in OPERATORS:
            msg = f"operator type {op['type']!r} is not implemented by this test"
            raise NotImplementedError(msg)
        if _condition_holds(record, op.get("if")):
            OPERATORS[op["type"]](record, op)
    return record


def load_operators(path: Path = FILELOG_FILE) -> list[dict[str, Any]]:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    operators: list[dict[str, Any]] = config["receivers"]["file_log"]["operators"]
    return operators


# ---------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Output:
    """What the example app wrote: raw log lines, exported spans and the run's time window."""

    lines: list[str]
    spans: list[dict[str, Any]]
    started: datetime
    finished: datetime


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Output:
    files = ServiceFiles.in_dir(tmp_path_factory.mktemp("filelog"))
    prepare_database(files)
    started = datetime.now(UTC)
    subprocess.run(
        [sys.executable, "-c", _GENERATE],
        cwd=REPO_DIR,
        env=service_env(files),
        check=True,
        timeout=120,
        capture_output=True,
    )
    lines = [line for line in files.log_file.read_text().splitlines() if line.strip()]
    return Output(lines, read_json_lines(files.span_file), started, datetime.now(UTC))


@pytest.fixture(scope="module")
def all_records(output: Output) -> list[Record]:
    operators = load_operators()
    return [apply(operators, line) for line in output.lines]


def _django_4xx_warning(record: Record) -> bool:
    """Django's 4xx warning: logged by BaseHandler.get_response after the middleware chain.

    By then the OTel middleware has ended the span and otel_context has detached the request's
    ids; the line gets them from the request the record is about (``record.request``).
    """
    return record.attributes.get("logger") == "django.request" and record.severity_text == (
        "warning"
    )


@pytest.fixture(scope="module")
def records(all_records: list[Record]) -> list[Record]:
    """Every record, Django's late 4xx warning included."""
    return all_records


def _hex(span_id: str) -> str:
    return span_id.removeprefix("0x")


# ---------------------------------------------------------------- tests


class TestRealLines:
    def test_every_line_maps_to_a_valid_trace_context(self, records: list[Record]) -> None:
        """Every line gets a 16-byte trace id and an 8-byte span id, neither all zeros."""
        assert len(records) >= 15
        for record in records:
            assert record.trace_id is not None, record
            assert record.span_id is not None, record
            assert len(record.trace_id) == 16, record
            assert len(record.span_id) == 8, record
            assert any(record.trace_id), record
            assert any(record.span_id), record

    def test_trace_flags_carry_the_lines_sampled_flag(
        self, all_records: list[Record], output: Output
    ) -> None:
        """Every line says trace_sampled; the record's trace flags have it as the sampled bit."""
        for record, line in zip(all_records, output.lines, strict=True):
            sampled = json.loads(line)["trace_sampled"]
            assert record.trace_flags == (b"\x01" if sampled else b"\x00"), line

    def test_trace_context_names_a_span_the_app_exported(
        self, records: list[Record], output: Output
    ) -> None:
        """Each record's (trace id, span id) is a span in the app's span file: they join."""
        exported = {
            (_hex(span["context"]["trace_id"]), _hex(span["context"]["span_id"]))
            for span in output.spans
        }
        for record in records:
            assert record.trace_id is not None
            assert record.span_id is not None
            assert (record.trace_id.hex(), record.span_id.hex()) in exported

    def test_django_4xx_warning_carries_its_requests_trace_context(
        self, records: list[Record], output: Output
    ) -> None:
        """Django's "Unauthorized" warning, logged after the span ended, joins its request."""
        late = [record for record in records if _django_4xx_warning(record)]
        assert [record.body for record in late] == ["Unauthorized: /api/v1/sdk/flags/"]
        (warning,) = late
        assert warning.trace_id is not None
        assert warning.span_id is not None
        server = [
            span
            for span in output.spans
            if _hex(span["context"]["span_id"]) == warning.span_id.hex()
            and span["kind"] == "SpanKind.SERVER"
        ]
        assert len(server) == 1, "the warning names its request's server span"
        assert warning.attributes.get("correlation.id") == server[0]["attributes"]["correlation.id"]

    def test_timestamp_is_the_lines_own_utc_time(
        self, all_records: list[Record], output: Output
    ) -> None:
        """The record's timestamp is parsed from the line, in UTC, within the run."""
        for record, line in zip(all_records, output.lines, strict=True):
            assert record.timestamp is not None
            assert record.timestamp.utcoffset() == timedelta(0)
            assert output.started <= record.timestamp <= output.finished
            assert record.timestamp == datetime.fromisoformat(json.loads(line)["timestamp"])

    def test_every_level_maps_to_a_severity(self, all_records: list[Record]) -> None:
        """No record keeps the "default" severity; warning and critical are among them."""
        by_text = {record.severity_text: record.severity_number for record in all_records}
        assert 0 not in by_text.values(), by_text
        assert by_text["info"] == 9
        assert by_text["warning"] == 13
        assert by_text["error"] == 17
        assert by_text["critical"] == 21

    def test_body_is_the_event_and_the_rest_stay_attributes(
        self, all_records: list[Record], output: Output
    ) -> None:
        """Body is the event; mapped fields leave the attributes; the identifiers stay."""
        for record, line in zip(all_records, output.lines, strict=True):
            fields = json.loads(line)
            assert record.body == fields["event"]
            moved = {"event", "timestamp", "level", "trace_id", "span_id", "trace_sampled"}
            assert record.attributes == {k: v for k, v in fields.items() if k not in moved}
        project = [r for r in all_records if r.attributes.get("correlation.id") == "filelog-1"]
        assert len(project) == 4
        assert {r.attributes["organisation.id"] for r in project} == {"1"}


class TestOperatorSemantics:
    """The interpreter is not vacuous: it reports what the collector would not map."""

    def test_line_outside_a_request_gets_no_trace_context(self) -> None:
        """No trace fields: no trace context, and the conditional removes are skipped."""
        line = '{"event": "startup", "level": "info", "timestamp": "2026-01-02T03:04:05Z"}'
        record = apply(load_operators(), line)
        assert record.trace_id is None
        assert record.span_id is None
        assert record.trace_flags is None
        assert record.body == "startup"
        assert record.timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def test_sampled_out_line_gets_flags_00(self) -> None:
        """A line of a sampled-out trace: its ids, the sampled bit clear, no flag attributes."""
        line = json.dumps(
            {
                "event": "x",
                "level": "info",
                "timestamp": "2026-01-02T03:04:05Z",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "span_id": "00f067aa0ba902b7",
                "trace_sampled": False,
            }
        )
        record = apply(load_operators(), line)
        assert record.trace_flags == b"\x00"
        assert record.trace_id == bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
        assert record.attributes == {}

    def test_layout_reads_offsets_and_optional_fractions(self) -> None:
        """The YAML's Go layout takes "Z" or an offset, with or without a fraction."""
        layout = load_operators()[0]["timestamp"]["layout"]
        west = timezone(-timedelta(hours=5, minutes=30))
        assert go_time("2026-01-02T03:04:05.25-05:30", layout) == datetime(
            2026, 1, 2, 3, 4, 5, 250000, tzinfo=west
        )
        assert go_time("2026-01-02T03:04:05Z", layout) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        with pytest.raises(ValueError, match="does not match"):
            go_time("2026-01-02 03:04:05", layout)

    def test_unknown_level_keeps_the_default_severity(self) -> None:
        """A level outside the mapping is severity 0, which the real-line test rejects."""
        line = json.dumps({"event": "x", "level": "verbose", "timestamp": "2026-01-02T03:04:05.5Z"})
        assert apply(load_operators(), line).severity_number == 0

    def test_ecs_names_are_not_found_by_this_mapping(self) -> None:
        """A line written with field_names="ecs" (trace.id, span.id) maps to no trace context."""
        line = json.dumps(
            {
                "event": "x",
                "level": "info",
                "timestamp": "2026-01-02T03:04:05Z",
                "trace.id": "ab" * 16,
                "span.id": "cd" * 8,
            }
        )
        assert apply(load_operators(), line).trace_id is None

    def test_unknown_operator_type_fails(self) -> None:
        """An operator this module does not implement is an error, not a silent skip."""
        with pytest.raises(NotImplementedError, match="regex_parser"):
            apply([{"type": "regex_parser", "regex": ".*"}], "{}")
