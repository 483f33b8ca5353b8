"""RequestScope: binding, reading and closing, also from several threads."""

from __future__ import annotations

import threading

from opentelemetry import trace

from otel_context.scope import RequestScope, coerce, scoped


class TestBind:
    def test_values_are_coerced_to_strings(self) -> None:
        """Ints and UUIDs become strings; None and '' unbind; booleans are refused."""
        assert coerce(5) == "5"
        assert coerce(None) is None
        assert coerce("") is None
        assert coerce(True) is None
        assert coerce("x" * 1000) == "x" * 256

    def test_bind_writes_span_attributes_unless_told_not_to(self, tracer: trace.Tracer) -> None:
        """span_attributes=False keeps ids off the span."""
        with tracer.start_as_current_span("a") as span:
            RequestScope(span).bind({"user.id": 1})
            RequestScope(span, span_attributes=False).bind({"project.id": 2})
        assert dict(span.attributes or {}) == {"user.id": "1"}


class TestThreads:
    def test_concurrent_binds_and_reads_never_fail(self, tracer: trace.Tracer) -> None:
        """Binding from one thread while another reads fields: no error, consistent reads."""
        scope = RequestScope()
        errors: list[BaseException] = []
        stop = threading.Event()

        def binder() -> None:
            for index in range(20000):
                scope.bind({f"k{index % 50}": index})
            stop.set()

        def reader() -> None:
            try:
                while not stop.is_set():
                    fields, _ = scope.fields(None)
                    assert all(isinstance(value, str) for value in fields.values())
                    scope.identifiers()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=binder), threading.Thread(target=reader)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert len(scope.identifiers()) == 50


class TestScoped:
    def test_owned_scope_is_closed_given_scope_is_not(self) -> None:
        """scoped() closes a scope it created, not one handed to it."""
        given = RequestScope()
        with scoped(given):
            pass
        with scoped() as owned:
            pass
        assert not given.closed
        assert owned.closed
