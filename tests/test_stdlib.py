"""OTelContextFilter: the same fields on plain stdlib records."""

from __future__ import annotations

import io
import logging
import logging.config
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_context import OTelContextFilter, OTelContextFormatter, StructlogOTelProcessor
from otel_context.scope import RequestScope, scoped
from otel_context.stdlib import STANDARD_RECORD_ATTRIBUTES, Style, format_fields

if TYPE_CHECKING:
    from pytest_django.fixtures import SettingsWrapper

FORMAT = "%(trace_id)s %(span_id)s %(correlation_id)s %(user_id)s %(message)s"


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello", (), None)
    record.__dict__.update(extra)
    return record


class TestOTelContextFilter:
    def test_defaults_outside_a_request_so_format_strings_never_fail(self) -> None:
        """Every standard attribute exists, set to the default."""
        record = _record()
        assert OTelContextFilter().filter(record) is True
        assert logging.Formatter(FORMAT).format(record) == "- - - - hello"
        for name in STANDARD_RECORD_ATTRIBUTES:
            assert getattr(record, name) == "-"

    def test_ids_inside_a_request(self, tracer: trace.Tracer) -> None:
        """trace ids and identifiers, underscored for format strings."""
        record = _record()
        with (
            tracer.start_as_current_span("req") as span,
            scoped(
                RequestScope(span), **{"correlation.id": "c-9", "user.id": "5", "tenant.id": "t"}
            ),
        ):
            OTelContextFilter(default="").filter(record)
        ctx = span.get_span_context()
        line = logging.Formatter(FORMAT).format(record)
        assert line == f"{ctx.trace_id:032x} {ctx.span_id:016x} c-9 5 hello"
        assert record.tenant_id == "t"  # type: ignore[attr-defined]
        assert record.organisation_id == ""  # type: ignore[attr-defined]

    def test_extra_wins(self, tracer: trace.Tracer) -> None:
        """A value passed with extra= is not overwritten."""
        record = _record(user_id="from-extra")
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), user__id="5"):
            OTelContextFilter().filter(record)
        assert record.user_id == "from-extra"  # type: ignore[attr-defined]

    def test_extra_identifier_values_become_strings(self, tracer: trace.Tracer) -> None:
        """extra={'organisation_id': 7} wins as "7": one type per identifier on every record."""
        inside, outside = _record(organisation_id=7, user_id=None), _record(project_id=12)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), user__id="5"):
            OTelContextFilter().filter(inside)
        OTelContextFilter().filter(outside)
        assert inside.organisation_id == "7"  # type: ignore[attr-defined]
        assert inside.user_id == "5"  # type: ignore[attr-defined]
        assert outside.project_id == "12"  # type: ignore[attr-defined]

    def test_configured_identifier_from_extra_is_a_string_too(self, tracer: trace.Tracer) -> None:
        """A key URL_KWARGS/RESOLVERS name (the scope's keys), not bound here: "3", not 3."""
        record = _record(tenant_id=3, other_id=4)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.keys = frozenset({"tenant.id"})
            scope.bind({"user.id": "5"})
            OTelContextFilter().filter(record)
        assert record.tenant_id == "3"  # type: ignore[attr-defined]
        assert record.other_id == 4, "not an identifier: left alone"  # type: ignore[attr-defined]

    def test_ecs_names_on_the_record(self, tracer: trace.Tracer) -> None:
        """field_names='ecs' puts ECS names on the record for JSON formatters."""
        record = _record()
        with (
            tracer.start_as_current_span("req") as span,
            scoped(RequestScope(span), **{"correlation.id": "c-9", "user.id": "5"}),
        ):
            OTelContextFilter(field_names="ecs").filter(record)
        assert record.__dict__["http.request.id"] == "c-9"
        assert record.__dict__["trace.id"] == f"{span.get_span_context().trace_id:032x}"
        assert record.__dict__["trace.sampled"] is True
        assert "user_id" not in record.__dict__

    def test_trace_sampled_for_sampled_and_sampled_out_requests(self, tracer: trace.Tracer) -> None:
        """%(trace_sampled)s is the span's sampled flag: True when kept, False when dropped."""
        dropped = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False).get_tracer("tests")
        lines = []
        for source in (tracer, dropped):
            record = _record()
            with source.start_as_current_span("req") as span, scoped(RequestScope(span)):
                OTelContextFilter().filter(record)
            lines.append(logging.Formatter("%(trace_sampled)s %(message)s").format(record))
            assert record.trace_id == f"{span.get_span_context().trace_id:032x}"  # type: ignore[attr-defined]
        assert lines == ["True hello", "False hello"]


#: A format naming each kind of field, in both spellings: built-in, a URL_KWARGS target, a
#: RESOLVERS key (tests/settings.py: tenant.id), and one bound only with bind() (order.id).
CONFIGURED = (
    "%(correlation_id)s %(correlation.id)s %(organisation_id)s %(organisation.id)s"
    " %(shard_id)s %(shard.id)s %(tenant_id)s %(tenant.id)s %(message)s"
)
EVERY_KIND = CONFIGURED.replace(" %(message)s", " %(order_id)s %(order.id)s %(message)s")
_SHARDS = {"organisation_pk": "organisation.id", "shard_pk": "shard.id"}


@pytest.fixture
def shard_kwarg(settings: SettingsWrapper) -> None:
    """tests/settings.py's configuration plus a URL_KWARGS target of its own: shard.id."""
    settings.OTEL_CONTEXT = {**settings.OTEL_CONTEXT, "URL_KWARGS": _SHARDS}


@pytest.mark.usefixtures("shard_kwarg")
class TestConfiguredNamesNeverFail:
    def test_every_configured_name_has_a_default_in_both_spellings(self) -> None:
        """Outside a request: URL_KWARGS targets and RESOLVERS keys are '-' too, dotted or not."""
        record = _record()
        OTelContextFilter().filter(record)
        assert logging.Formatter(CONFIGURED).format(record) == "- - - - - - - - hello"

    def test_values_in_both_spellings_and_defaults_for_the_rest(self, tracer: trace.Tracer) -> None:
        """Inside a request each bound id is in both spellings; what is not bound is '-'."""
        record = _record()
        ids = {"correlation.id": "c-1", "tenant.id": "t-1", "order.id": "o-1"}
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **ids):
            OTelContextFilter().filter(record)
        line = logging.Formatter(EVERY_KIND).format(record)
        assert line == "c-1 c-1 - - - - t-1 t-1 o-1 o-1 hello"

    def test_extra_in_either_spelling_wins_in_both_as_a_string(self, tracer: trace.Tracer) -> None:
        """extra={'tenant.id': 3} is the tenant in both spellings; extra={'shard_id': 4} too."""
        record = _record(**{"tenant.id": 3, "shard_id": 4})
        with (
            tracer.start_as_current_span("req") as span,
            scoped(RequestScope(span), tenant__id="t"),
        ):
            OTelContextFilter().filter(record)
        assert (record.__dict__["tenant_id"], record.__dict__["tenant.id"]) == ("3", "3")
        assert (record.__dict__["shard_id"], record.__dict__["shard.id"]) == ("4", "4")

    def test_no_logging_error_for_a_configured_name_on_any_record(
        self, capsys: pytest.CaptureFixture[str], tracer: trace.Tracer
    ) -> None:
        """Through a real handler: inside, outside, and on a record of Django's logger."""
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(OTelContextFilter())
        handler.setFormatter(logging.Formatter(CONFIGURED))
        logger = logging.getLogger("tests.formats")
        logger.addHandler(handler)
        try:
            logger.warning("outside")
            with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)):
                logger.warning("inside")
            handler.handle(_record(name="django.security.DisallowedHost"))
        finally:
            logger.removeHandler(handler)
        assert "Logging error" not in capsys.readouterr().err
        assert stream.getvalue().splitlines() == [
            "- - - - - - - - outside",
            "- - - - - - - - inside",
            "- - - - - - - - hello",
        ]

    def test_processor_formatter_with_a_format_string(self, tracer: trace.Tracer) -> None:
        """structlog's ProcessorFormatter(fmt=...) formats the record the filter annotated."""
        formatter = structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.KeyValueRenderer(key_order=["event", "tenant.id"]),
            ],
            foreign_pre_chain=[StructlogOTelProcessor()],
            fmt=CONFIGURED,
        )
        inside, outside = _record(), _record()
        with (
            tracer.start_as_current_span("req") as span,
            scoped(RequestScope(span), tenant__id="t"),
        ):
            OTelContextFilter().filter(inside)
            inside_line = formatter.format(inside)  # a handler formats in the log call
        OTelContextFilter().filter(outside)
        assert inside_line.startswith("- - - - - - t t event='hello' tenant.id='t' trace_id=")
        assert formatter.format(outside) == "- - - - - - - - event='hello' tenant.id=None"

    def test_a_broken_configuration_still_gives_the_standard_names(
        self, settings: SettingsWrapper
    ) -> None:
        """An unusable OTEL_CONTEXT is E002 at start-up; the filter still never fails."""
        settings.OTEL_CONTEXT = {"RESOLVERS": {"tenant.id": "no.such.module.f"}}
        record = _record()
        assert OTelContextFilter().filter(record) is True
        assert logging.Formatter(FORMAT).format(record) == "- - - - hello"


class TestOTelContextFormatter:
    def test_a_name_bound_only_in_some_requests_renders_as_the_default(
        self, tracer: trace.Tracer
    ) -> None:
        """order.id, bound with bind() in one request: its value there, '-' on other records."""
        formatter = OTelContextFormatter(EVERY_KIND)
        bound, unbound, outside = _record(), _record(), _record()
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.bind({"order__id": 17})
            OTelContextFilter().filter(bound)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)):
            OTelContextFilter().filter(unbound)
        OTelContextFilter().filter(outside)
        lines = [formatter.format(record) for record in (bound, unbound, outside)]
        assert [line.split()[-3:] for line in lines] == [
            ["17", "17", "hello"],
            ["-", "-", "hello"],
            ["-", "-", "hello"],
        ]

    def test_without_the_filter_every_field_is_the_default(self) -> None:
        """A record that never met the filter (another handler's) formats too."""
        line = OTelContextFormatter(EVERY_KIND, default="?").format(_record())
        assert line == "? ? ? ? ? ? ? ? ? ? hello"

    def test_the_record_is_left_alone(self) -> None:
        """Defaults live in the formatter: another handler's JSON formatter sees no '-' fields."""
        record = _record()
        OTelContextFormatter("%(order_id)s %(message)s").format(record)
        assert "order_id" not in record.__dict__

    def test_without_a_format_or_fields_it_is_logging_formatter(self) -> None:
        """No format (or one naming only record attributes): what logging.Formatter gives."""
        record = _record()
        assert OTelContextFormatter().format(record) == "hello"
        assert OTelContextFormatter("%(levelname)s %(message)s").format(record) == "INFO hello"

    def test_values_on_the_record_win_over_defaults(self) -> None:
        """A record's own attribute, then defaults=, then default=."""
        formatter = OTelContextFormatter(
            "%(a)s %(b)s %(c)s %(message)s", defaults={"b": "B"}, default="-"
        )
        assert formatter.format(_record(a="A")) == "A B - hello"

    @pytest.mark.parametrize(
        ("fmt", "style", "line"),
        [
            ("{order_id} {levelname} {message}", "{", "- INFO hello"),
            ("${order_id} ${levelname} $message", "$", "- INFO hello"),
            ("%(order.id)s %(levelname)-5s %(message)s", "%", "- INFO  hello"),
        ],
    )
    def test_each_style(self, fmt: str, style: Style, line: str) -> None:
        """%, { and $ formats: a missing field is the default, record fields render as usual."""
        assert OTelContextFormatter(fmt, style=style).format(_record()) == line

    def test_dict_config_builds_it_from_format(self) -> None:
        """LOGGING's 'class' form and '()' form, with the 'format' key, both work."""
        for how in ({"class": "otel_context.OTelContextFormatter"}, {"()": OTelContextFormatter}):
            logging.config.dictConfig(
                {
                    "version": 1,
                    "disable_existing_loggers": False,
                    "formatters": {"ids": {**how, "format": "%(order_id)s %(message)s"}},
                    "handlers": {"h": {"class": "logging.NullHandler", "formatter": "ids"}},
                    "loggers": {"tests.dictconfig": {"handlers": ["h"], "propagate": False}},
                }
            )
            (handler,) = logging.getLogger("tests.dictconfig").handlers
            assert handler.formatter is not None
            assert handler.formatter.format(_record()) == "- hello"
        logging.getLogger("tests.dictconfig").handlers.clear()


class TestFormatFields:
    def test_names_in_order_without_duplicates(self) -> None:
        """Dotted names, width specs, repeats; positional {0} fields are no names."""
        assert format_fields("%(a)s %(b.c)-5s %(a)s %(message)s") == ("a", "b.c", "message")
        assert format_fields("{a} {b.c} {d[0]} {0} {a!r:>4}", "{") == ("a", "b", "d")
        assert format_fields("$a ${b} $$c", "$") == ("a", "b")
        assert format_fields(None) == ()


def _documented_logging() -> dict[str, Any]:
    """The ``LOGGING`` example of the README (or of docs/, should it move there)."""
    root = Path(__file__).resolve().parent.parent
    for page in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]:
        for block in re.findall(
            r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL
        ):
            if "LOGGING = {" in block and "OTelContextFormatter" in block:
                namespace: dict[str, Any] = {}
                exec(block, namespace)  # noqa: S102 - our own documentation
                return namespace["LOGGING"]  # type: ignore[no-any-return]
    pytest.fail("no LOGGING example with OTelContextFormatter in the README or docs/")


class TestDocumentedSetUp:
    def test_the_readme_logging_example_never_fails(
        self, tracer: trace.Tracer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Its format names tenant_id (a RESOLVERS key) and order_id (bind() only): no error."""
        config = _documented_logging()
        stream = io.StringIO()
        config["handlers"]["console"]["stream"] = stream
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            logging.config.dictConfig(config)
            log = logging.getLogger("tests.documented")
            log.info("outside")
            with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
                scope.bind({"tenant.id": "t-1", "order__id": 17})
                log.info("bound")
            with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)):
                log.info("unbound")
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        assert "Logging error" not in capsys.readouterr().err
        outside, bound, unbound = stream.getvalue().splitlines()
        assert outside.endswith(" trace=- sampled=- cid=- user=- tenant=- order=- outside")
        assert bound.endswith(" cid=- user=- tenant=t-1 order=17 bound")
        assert unbound.endswith(" cid=- user=- tenant=- order=- unbound")
