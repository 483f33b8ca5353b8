"""The Flask adapter through the real Flask app and FlaskInstrumentor, on one thread."""

from __future__ import annotations

from tests._packages import skip_if_omitted

# before the adapter is imported: a matrix cell without the Flask instrumentation skips here
skip_if_omitted("opentelemetry-instrumentation-flask")

import logging
from typing import TYPE_CHECKING, Any

import flask
import pytest
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.trace import SpanKind, StatusCode
from werkzeug.test import EnvironBuilder

import otel_context as oc
from otel_context import conf
from otel_context import flask as adapter
from otel_context import request as lifecycle
from otel_context.flask import hooks
from otel_context.scope import current_scope
from otel_context.stdlib import OTelContextFilter
from tests.flask.app import OPTIONS, create_app

if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tests.flask.conftest import AppFactory

Events = list[dict[str, object]]
SPOOF = "user.id=42,organisation.id=7"


def _by_event(events: Events, name: str) -> dict[str, object]:
    matches = [event for event in events if event["event"] == name]
    assert len(matches) == 1, f"expected one {name!r} event, got {matches}"
    return matches[0]


def _server_span(exporter: InMemorySpanExporter) -> Any:
    (span,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    return span


def _assert_context_empty() -> None:
    assert current_scope() is None
    assert dict(otel_context.get_current()) == {}


class TestSequentialRequests:
    def test_second_request_on_same_thread_sees_none_of_the_firsts_ids(
        self, client: FlaskClient, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """The leak test: ids of request 1 never appear on request 2's lines, span or body."""
        first = client.get(
            "/orgs/7/items/i9",
            headers={"Correlation-Id": "first-request", "X-User": "u1", "X-Tenant": "t1"},
        )
        first_events = list(events)
        events.clear()
        _assert_context_empty()
        second = client.get("/plain", headers={"Correlation-Id": "second-request"})

        assert first.status_code == second.status_code == 200
        assert {(e["organisation.id"], e["user.id"], e["tenant.id"]) for e in first_events} == {
            ("7", "u1", "t1")
        }
        assert events, "the second request emitted no events"
        for event in events:
            assert event["correlation.id"] == "second-request"
            for key in ("organisation.id", "item.id", "user.id", "tenant.id"):
                assert key not in event
        first_span, second_span = exporter.get_finished_spans()
        assert second_span.kind is SpanKind.SERVER
        assert second_span.parent is None
        assert second_span.attributes is not None
        assert "user.id" not in second_span.attributes
        assert {e["trace_id"] for e in first_events} == {f"{first_span.context.trace_id:032x}"}
        assert {e["trace_id"] for e in events} == {f"{second_span.context.trace_id:032x}"}
        assert second.json == {
            "identifiers": {"correlation.id": "second-request"},
            "baggage": {"correlation.id": "second-request"},
        }
        _assert_context_empty()

    def test_events_carry_the_request_span_ids(
        self, client: FlaskClient, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """trace_id and span_id on every event are those of the server span."""
        client.get("/plain")
        span = _server_span(exporter)
        assert len(events) == 2
        for event in events:
            assert event["trace_id"] == f"{span.context.trace_id:032x}"
            assert event["span_id"] == f"{span.context.span_id:016x}"

    def test_events_in_a_child_span_carry_the_childs_span_id(
        self, client: FlaskClient, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """An event inside a child span has the child's span_id, and the parent's after it."""
        client.get("/child")
        spans = {span.name: span for span in exporter.get_finished_spans()}
        child, server = spans["child"], spans["GET /child"]
        in_child = _by_event(events, "view.in_child")
        after = _by_event(events, "view.after_child")
        assert in_child["span_id"] == f"{child.context.span_id:016x}"
        assert after["span_id"] == f"{server.context.span_id:016x}"
        assert in_child["correlation.id"] == after["correlation.id"]


class TestViewThatRaises:
    def test_500_carries_the_correlation_id_and_its_lines_the_ids(
        self,
        client: FlaskClient,
        events: Events,
        exporter: InMemorySpanExporter,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A failing view: 500 with the header; its event and Flask's error record have the ids."""
        caplog.handler.addFilter(OTelContextFilter())
        response = client.get("/raises", headers={"Correlation-Id": "boom-1", "X-User": "u5"})

        assert response.status_code == 500
        assert response.headers["Correlation-Id"] == "boom-1"
        span = _server_span(exporter)
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["correlation.id"] == "boom-1"
        assert span.attributes["user.id"] == "u5"
        event = _by_event(events, "view.before_raise")
        assert (event["correlation.id"], event["user.id"]) == ("boom-1", "u5")
        assert event["trace_id"] == f"{span.context.trace_id:032x}"
        (record,) = [r for r in caplog.records if r.getMessage() == "Exception on /raises [GET]"]
        assert record.correlation_id == "boom-1"  # type: ignore[attr-defined]
        assert record.user_id == "u5"  # type: ignore[attr-defined]
        assert record.trace_id == event["trace_id"]  # type: ignore[attr-defined]
        _assert_context_empty()

    def test_an_exception_propagated_to_the_server_leaves_no_context(
        self, app: flask.Flask, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """PROPAGATE_EXCEPTIONS (debug, testing): no response, yet the scope ends with the span."""
        app.config["PROPAGATE_EXCEPTIONS"] = True
        with pytest.raises(RuntimeError, match="on purpose"):
            app.test_client().get("/raises", headers={"Correlation-Id": "boom-2"})
        assert _by_event(events, "view.before_raise")["correlation.id"] == "boom-2"
        assert _server_span(exporter).status.status_code is StatusCode.ERROR
        _assert_context_empty()


class TestSpoofedBaggage:
    def test_anonymous_request_cannot_claim_ids_through_baggage(
        self, client: FlaskClient, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """``baggage: user.id=42,organisation.id=7``: no line, attribute or baggage claims them."""
        response = client.get("/plain", headers={"baggage": SPOOF})

        body = response.json
        assert body is not None
        assert set(body["identifiers"]) == {"correlation.id"}
        assert set(body["baggage"]) == {"correlation.id"}
        assert events
        for event in events:
            assert "user.id" not in event
            assert "organisation.id" not in event
        attributes = _server_span(exporter).attributes
        assert attributes is not None
        assert "user.id" not in attributes
        assert "organisation.id" not in attributes
        assert attributes[lifecycle.DROPPED_ATTRIBUTE] == 2

    def test_the_resolved_user_beats_a_spoofed_one(
        self, client: FlaskClient, events: Events
    ) -> None:
        """With a resolved user and a spoofed one in baggage, only the resolved one appears."""
        client.get("/orgs/3/items/i1", headers={"baggage": SPOOF, "X-User": "u9"})
        assert {(e["user.id"], e["organisation.id"]) for e in events} == {("u9", "3")}

    def test_trusted_hop_ids_are_accepted_only_from_its_network(
        self, make_app: AppFactory, events: Events
    ) -> None:
        """TRUST_UPSTREAM_IDENTIFIERS with TRUSTED_NETWORKS: the hop's ids, nobody else's."""
        app = make_app(trust_upstream_identifiers=True, trusted_networks=["10.0.0.0/8"])
        client = app.test_client()
        inside, outside = {"REMOTE_ADDR": "10.1.2.3"}, {"REMOTE_ADDR": "203.0.113.9"}
        trusted = client.get("/plain", headers={"baggage": SPOOF}, environ_base=inside).json
        refused = client.get("/plain", headers={"baggage": SPOOF}, environ_base=outside).json
        assert trusted is not None
        assert refused is not None
        assert trusted["identifiers"]["user.id"] == "42"
        assert trusted["identifiers"]["organisation.id"] == "7"
        assert set(refused["identifiers"]) == {"correlation.id"}


class TestCorrelationHeader:
    @pytest.mark.parametrize(
        ("headers", "expected_header"),
        [
            ({}, "Correlation-Id"),
            ({"X-Request-ID": "nginx-abc"}, "X-Request-ID"),
            ({"Correlation-Id": "c-1", "X-Request-ID": "r-1"}, "Correlation-Id"),
        ],
    )
    def test_echoed_under_the_header_it_came_in(
        self, client: FlaskClient, headers: dict[str, str], expected_header: str
    ) -> None:
        """Every response echoes the id under the header it came in (default Correlation-Id)."""
        response = client.get("/plain", headers=headers)
        value = response.headers[expected_header]
        assert response.json is not None
        assert response.json["identifiers"]["correlation.id"] == value
        if headers:
            assert value == headers[expected_header]
        else:
            assert len(value) == 32

    def test_invalid_header_is_replaced_and_never_echoed(
        self, client: FlaskClient, events: Events
    ) -> None:
        """A junk correlation header is replaced by a generated id in logs and response."""
        junk = "<script>alert(1)</script>" + "x" * 300
        response = client.get("/plain", headers={"Correlation-Id": junk})
        value = response.headers["Correlation-Id"]
        assert value != junk
        assert len(value) == 32
        assert all(event["correlation.id"] == value for event in events)
        assert junk not in repr(events)

    def test_proxy_header_accepted_as_is_only_from_the_proxy(self, make_app: AppFactory) -> None:
        """TRUST_CORRELATION_ID: the proxy's own format passes; others are still validated."""
        app = make_app(trust_correlation_id=True, trusted_networks=["127.0.0.1/32"])
        odd = {"Correlation-Id": "proxy/1+2=3"}
        client = app.test_client()
        trusted = client.get("/plain", headers=odd, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        other = client.get("/plain", headers=odd, environ_base={"REMOTE_ADDR": "192.0.2.1"})
        assert trusted.headers["Correlation-Id"] == "proxy/1+2=3"
        assert other.headers["Correlation-Id"] != "proxy/1+2=3"

    def test_configured_response_header_the_view_set_is_left_as_it_is(
        self, make_app: AppFactory, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """CORRELATION_ID_RESPONSE_HEADER names the header; a value the app set is kept (#22).

        Lines keep the inbound id; the span records the app's as ``correlation.response_id``.
        """
        client = make_app(correlation_id_response_header="Correlation-ID").test_client()
        response = client.get("/sets-header", headers={"X-Request-ID": "r-2"})
        assert response.headers.getlist("Correlation-Id") == ["set-by-the-view"]
        assert "X-Request-ID" not in response.headers
        attributes = _server_span(exporter).attributes
        assert attributes["correlation.id"] == "r-2"
        assert attributes["correlation.response_id"] == "set-by-the-view"
        assert {event["correlation.id"] for event in events} == {"r-2"}

    def test_an_unsafe_id_the_view_set_is_left_alone_and_never_recorded(
        self, client: FlaskClient, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """The app's own X-Request-ID, 2 KB with spaces and markup: answered, not recorded."""
        unsafe = "app id <b>" + "x" * 2048
        response = client.get(
            "/sets-header",
            query_string={"name": "X-Request-ID", "value": unsafe},
            headers={"X-Request-ID": "abc-1"},
        )
        assert response.headers.getlist("X-Request-ID") == [unsafe]
        attributes = _server_span(exporter).attributes
        assert attributes["correlation.id"] == "abc-1"
        assert "correlation.response_id" not in attributes
        assert [event["correlation.id"] for event in events] == ["abc-1"]
        assert "app id <b>" not in repr(events)

    def test_the_same_id_the_view_set_records_nothing(
        self, client: FlaskClient, exporter: InMemorySpanExporter
    ) -> None:
        """The app echoing the inbound id itself: one header, no response id on the span."""
        response = client.get(
            "/sets-header",
            query_string={"name": "X-Request-ID", "value": "abc-2"},
            headers={"X-Request-ID": "abc-2"},
        )
        assert response.headers.getlist("X-Request-ID") == ["abc-2"]
        assert "correlation.response_id" not in _server_span(exporter).attributes


class TestIdentifiers:
    def test_url_kwargs_reach_events_and_the_span(
        self, client: FlaskClient, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """URL_KWARGS on request.view_args: converted values bound as strings."""
        client.get("/orgs/12/items/abc")
        assert {(e["organisation.id"], e["item.id"]) for e in events} == {("12", "abc")}
        attributes = _server_span(exporter).attributes
        assert attributes is not None
        assert (attributes["organisation.id"], attributes["item.id"]) == ("12", "abc")

    def test_url_kwargs_scoped_to_routes(self, make_app: AppFactory, events: Events) -> None:
        """``kwarg@routes`` applies on the routes it names: endpoints, views, rule patterns."""
        client = make_app(
            url_kwargs={
                "organisation_pk@plain": "organisation.id",  # another route: never here
                "organisation_pk@route:/orgs/*": "org.id",
                "item_id@view:tests.flask.app.*": "item.id",
                "environment_key@item": "environment.id",
            }
        ).test_client()
        item = client.get("/orgs/12/items/abc").get_json()["identifiers"]
        environment = client.get("/environments/env-5").get_json()["identifiers"]
        item.pop("correlation.id")
        assert item == {"org.id": "12", "item.id": "abc"}
        assert "environment.id" not in environment

    def test_lookup_callable_returns_several_ids(self, client: FlaskClient, events: Events) -> None:
        """A URL-kwarg lookup binds every id it returns."""
        client.get("/environments/env-5")
        assert {(e["environment.id"], e["project.id"]) for e in events} == {("5", "p-5")}

    def test_broken_lookup_and_resolver_drop_only_their_ids(
        self, client: FlaskClient, events: Events, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A lookup or resolver that raises: the event goes out without that id, no exception."""
        response = client.get("/environments/broken", headers={"X-Tenant": "boom", "X-User": "u"})
        assert response.status_code == 200
        event = _by_event(events, "view.environment")
        assert "environment.id" not in event
        assert "tenant.id" not in event
        assert event["user.id"] == "u"
        failures = {r.getMessage() for r in caplog.records if r.levelno == logging.ERROR}
        assert failures >= {
            "otel_context: URL_KWARGS lookup for 'environment_key' failed",
            "otel_context: resolver for 'tenant.id' failed",
        }

    def test_resolver_that_found_nothing_runs_again_when_the_response_starts(
        self, client: FlaskClient, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """A user signed in inside the view reaches the span; events before it have no user."""
        client.get("/late")
        assert "user.id" not in _by_event(events, "view.signed_in")
        attributes = _server_span(exporter).attributes
        assert attributes is not None
        assert attributes["user.id"] == "late-7"

    def test_an_unrouted_request_runs_no_resolvers_but_echoes_its_id(
        self, client: FlaskClient, exporter: InMemorySpanExporter
    ) -> None:
        """A 404: no endpoint, so no resolver runs (as with Django); the header is still echoed."""
        response = client.get("/nowhere", headers={"X-User": "u1", "Correlation-Id": "nf-1"})
        assert response.status_code == 404
        assert response.headers["Correlation-Id"] == "nf-1"
        attributes = _server_span(exporter).attributes
        assert attributes is not None
        assert attributes["correlation.id"] == "nf-1"
        assert "user.id" not in attributes
        _assert_context_empty()

    def test_bind_in_view_reaches_events_span_and_get_identifiers(
        self, client: FlaskClient, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """otel_context.bind() mid-request: dotted keys everywhere."""
        response = client.get("/bind")
        assert _by_event(events, "view.bound")["order.id"] == "o-1"
        assert response.json is not None
        assert response.json["identifiers"]["order.id"] == "o-1"
        attributes = _server_span(exporter).attributes
        assert attributes is not None
        assert attributes["order.id"] == "o-1"


class TestLifecycle:
    def test_scope_ends_while_the_span_is_still_current(
        self, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Last in, first out: the scope ends before the instrumentation ends the span."""
        seen: list[bool] = []
        real_end = lifecycle.end

        def end(request: lifecycle.Request) -> None:
            seen.append(trace.get_current_span().is_recording())
            real_end(request)

        monkeypatch.setattr(lifecycle, "end", end)
        client.get("/plain")
        client.get("/raises")
        assert seen == [True, True]

    def test_user_teardown_functions_run_inside_the_scope(
        self, app: flask.Flask, events: Events
    ) -> None:
        """A teardown function the app registers runs before ours: its event has the ids."""

        @app.teardown_request
        def log_teardown(exc: BaseException | None) -> None:
            structlog.get_logger().info("app.teardown")

        app.test_client().get("/plain", headers={"Correlation-Id": "td-1"})
        assert _by_event(events, "app.teardown")["correlation.id"] == "td-1"
        _assert_context_empty()

    def test_copied_request_context_does_not_end_the_request(
        self, client: FlaskClient, events: Events
    ) -> None:
        """copy_current_request_context in a thread: its teardown leaves the request's scope."""
        response = client.get("/copied-context", headers={"Correlation-Id": "cp-1"})
        assert response.headers["Correlation-Id"] == "cp-1"
        assert response.json is not None
        assert response.json["identifiers"] == {"correlation.id": "cp-1"}
        assert _by_event(events, "view.after_thread")["correlation.id"] == "cp-1"
        assert "correlation.id" not in _by_event(events, "thread.ran")

    def test_a_raising_teardown_function_does_not_leak_the_context(
        self,
        app: flask.Flask,
        events: Events,
        exporter: InMemorySpanExporter,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A request whose teardown never reaches ours: context restored, next request clean."""

        scopes = []

        @app.teardown_request
        def broken(exc: BaseException | None) -> None:
            scopes.append(current_scope())
            msg = "teardown failed on purpose"
            raise RuntimeError(msg)

        client = app.test_client()
        with pytest.raises(RuntimeError, match="teardown failed"):
            client.get("/plain", headers={"Correlation-Id": "lost-1"})
        _assert_context_empty()
        (scope,) = scopes
        assert scope is not None
        assert scope.closed  # even a context captured before the failure now reads empty
        assert any("context was discarded" in r.getMessage() for r in caplog.records)

        app.teardown_request_funcs[None].remove(broken)
        events.clear()
        client.get("/plain", headers={"Correlation-Id": "next-1"})
        assert {e["correlation.id"] for e in events} == {"next-1"}
        first, second = exporter.get_finished_spans()
        assert first.status.status_code is StatusCode.ERROR  # ended by the guard, not by GC
        assert "teardown failed" in (first.status.description or "")
        assert second.kind is SpanKind.SERVER
        assert second.parent is None
        assert second.context.trace_id != first.context.trace_id

    @pytest.mark.parametrize("path", ["/stream", "/stream-plain"])
    @pytest.mark.usefixtures("contrib_3937")
    def test_a_streamed_body_carries_the_ids_under_a_stream_span(
        self, client: FlaskClient, events: Events, exporter: InMemorySpanExporter, path: str
    ) -> None:
        """The instrumentation ends the span in teardown, before the body streams: the body
        runs under a ``stream`` child span with the request's ids, with or without
        stream_with_context; both spans end and nothing leaks."""
        response = client.get(path, headers={"Correlation-Id": "st-1"})
        assert response.headers["Correlation-Id"] == "st-1"
        assert "stream" in response.get_data(as_text=True) or "chunk" in response.get_data(
            as_text=True
        )
        response.close()
        spans = {span.name: span for span in exporter.get_finished_spans()}
        assert len(spans) == 2, sorted(spans)
        server = next(span for span in spans.values() if span.kind is SpanKind.SERVER)
        stream = spans[f"{server.name} stream"]
        assert stream.parent is not None
        assert stream.parent.span_id == server.context.span_id
        body = [e for e in events if e["event"] in {"stream.body", "stream.chunk"}]
        assert body
        for event in body:
            assert event["correlation.id"] == "st-1"
            assert event["trace_id"] == f"{server.context.trace_id:032x}"
            assert event["span_id"] == f"{stream.context.span_id:016x}"
        _assert_context_empty()

    def test_a_streamed_body_closed_unread_ends_its_span(
        self, app: flask.Flask, exporter: InMemorySpanExporter
    ) -> None:
        """A client gone before the first chunk: the WSGI server's close() ends the stream
        span and closes the scope."""
        environ = EnvironBuilder(path="/stream-plain").get_environ()
        body = app(environ, lambda status, headers, exc_info=None: lambda data: None)
        body.close()  # type: ignore[attr-defined]
        names = sorted(span.name for span in exporter.get_finished_spans())
        assert len(names) == 2
        assert names[1] == f"{names[0]} stream"
        _assert_context_empty()

    @pytest.mark.parametrize(("path", "status"), [("/aborts", 404), ("/raises", 500)])
    def test_error_responses_are_not_handed_over(
        self, client: FlaskClient, exporter: InMemorySpanExporter, path: str, status: int
    ) -> None:
        """abort() and unhandled errors give ready-made bodies: no stream span."""
        response = client.get(path)
        assert response.status_code == status
        response.close()
        assert [span.kind for span in exporter.get_finished_spans()] == [SpanKind.SERVER]
        _assert_context_empty()

    def test_send_file_is_not_handed_over(
        self, client: FlaskClient, exporter: InMemorySpanExporter
    ) -> None:
        """send_file (direct_passthrough) keeps the server's file wrapper: no stream span."""
        response = client.get("/download", headers={"Correlation-Id": "file-1"})
        assert response.headers["Correlation-Id"] == "file-1"
        assert response.get_data() == b"file bytes"
        response.close()
        assert [span.kind for span in exporter.get_finished_spans()] == [SpanKind.SERVER]
        _assert_context_empty()

    def test_excluded_url_gets_no_scope_and_no_header(
        self, make_app: AppFactory, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """Excluded URLs get no span, so no identifiers and no header, as with Django."""
        response = make_app(excluded_urls="plain").test_client().get("/plain")
        assert response.status_code == 200
        assert "Correlation-Id" not in response.headers
        assert response.json == {"identifiers": {}, "baggage": {}}
        assert not exporter.get_finished_spans()
        assert all("correlation.id" not in event for event in events)

    def test_a_context_leaked_by_the_app_is_discarded_at_the_wsgi_boundary(
        self, make_app: AppFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Untraced (so no instrumentation token resets it), a view's un-detached attach
        does not outlive the request."""
        app = make_app(excluded_urls="leaky")

        @app.get("/leaky")
        def leaky() -> str:
            otel_context.attach(otel_context.set_value("leaked", True))
            return "ok"

        assert app.test_client().get("/leaky").status_code == 200
        _assert_context_empty()
        assert "context was discarded" in caplog.text


class TestNeverRaises:
    def test_a_failing_begin_leaves_the_request_alone(
        self, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """begin() raising: the request is served, without ids or header; the error is logged."""

        def broken(*args: object) -> None:
            raise RuntimeError

        monkeypatch.setattr(lifecycle, "begin", broken)
        response = client.get("/plain")
        assert response.status_code == 200
        assert "Correlation-Id" not in response.headers
        assert "beginning the Flask request failed" in caplog.text

    def test_a_failing_header_echo_still_ends_the_scope(
        self, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The echo raising: response served without the header, the scope still ends."""

        def broken(
            self: lifecycle.Request, config: conf.Config, reader: object, response: object
        ) -> tuple[str, str]:
            raise RuntimeError

        monkeypatch.setattr(lifecycle.Request, "echo", broken)
        response = client.get("/plain")
        assert response.status_code == 200
        assert "Correlation-Id" not in response.headers
        assert "echoing the correlation id failed" in caplog.text
        _assert_context_empty()

    def test_a_failing_end_is_contained_by_the_guard(
        self, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """end() raising: logged; the WSGI guard closes the scope and warns."""

        def broken(request: lifecycle.Request) -> None:
            raise RuntimeError

        monkeypatch.setattr(lifecycle, "end", broken)
        response = client.get("/plain")
        assert response.status_code == 200
        assert "ending the Flask request failed" in caplog.text
        assert "context was discarded" in caplog.text
        _assert_context_empty()


class TestInstrumentApp:
    def test_a_second_call_adds_nothing(self, app: flask.Flask, events: Events) -> None:
        """instrument_app twice: one set of request functions, one guard, ids as before."""
        before = list(app.before_request_funcs[None])
        teardown = list(app.teardown_request_funcs[None])
        guard = app.wsgi_app
        adapter.instrument_app(app, **OPTIONS)
        assert app.before_request_funcs[None] == before
        assert app.teardown_request_funcs[None] == teardown
        assert app.wsgi_app is guard
        response = app.test_client().get("/plain", headers={"X-User": "u1"})
        assert response.json is not None
        assert response.json["identifiers"]["user.id"] == "u1"

    def test_joins_an_app_the_instrumentation_already_wraps(
        self, provider: TracerProvider, events: Events, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Already instrumented (with its own hook, and a before_request registered since):
        ours go right after the instrumentation's, its hook still runs, ours ignored."""
        hooked: list[str] = []
        app = flask.Flask("pre")
        FlaskInstrumentor.instrument_app(
            app,
            tracer_provider=provider,
            request_hook=lambda span, environ: hooked.append(environ["PATH_INFO"]),
        )

        @app.before_request
        def reads_ids() -> None:
            hooked.append(oc.get_identifiers().get("correlation.id", "none"))

        @app.get("/x")
        def view() -> str:
            return "ok"

        adapter.instrument_app(app, request_hook=print)
        response = app.test_client().get("/x", headers={"Correlation-Id": "pre-1"})
        assert response.headers["Correlation-Id"] == "pre-1"
        assert hooked == ["/x", "pre-1"]
        assert "ignoring ['request_hook']" in caplog.text

    def test_goes_right_after_the_instrumentations_teardown(self, provider: TracerProvider) -> None:
        """Teardown functions registered before the instrumentation keep running after ours."""
        app = flask.Flask("early")
        app.teardown_request(early := lambda exc: None)
        FlaskInstrumentor.instrument_app(app, tracer_provider=provider)
        app.teardown_request(late := lambda exc: None)
        adapter.instrument_app(app)
        functions = app.teardown_request_funcs[None]
        assert functions[0] is early
        assert functions[2] is hooks.teardown_request
        assert functions[3] is late

    def test_joins_apps_built_after_a_global_instrument(
        self, provider: TracerProvider, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """FlaskInstrumentor().instrument() (as opentelemetry-instrument does): same behaviour."""
        instrumentor = FlaskInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        try:
            app = create_app()
        finally:
            instrumentor.uninstrument()
        assert app.teardown_request_funcs[None][1] is hooks.teardown_request
        response = app.test_client().get("/raises", headers={"Correlation-Id": "glob-1"})
        assert response.headers["Correlation-Id"] == "glob-1"
        assert _by_event(events, "view.before_raise")["correlation.id"] == "glob-1"
        assert _server_span(exporter).attributes["correlation.id"] == "glob-1"
        _assert_context_empty()

    def test_a_bad_option_fails_at_start_up(self) -> None:
        """Configuration errors surface from instrument_app, not from the first request."""
        with pytest.raises(oc.ConfigurationError, match="RESOLVERS"):
            adapter.instrument_app(flask.Flask("bad"), resolvers={"user.id": 42})


def _org_b(request: flask.Request) -> str:
    """A resolver that says organisation "B" whatever the URL asked for."""
    return "B"


class TestPrecedence:
    def test_the_url_beats_a_resolver_unless_over_url(
        self, make_app: AppFactory, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """The same rule as Django: /orgs/12 is about 12; an over_url resolver says B."""
        resolvers: dict[str, Any] = {**OPTIONS["resolvers"], "organisation.id": _org_b}
        make_app(resolvers=resolvers).test_client().get("/orgs/12/items/abc")
        assert {e["organisation.id"] for e in events} == {"12"}
        assert _server_span(exporter).attributes["organisation.id"] == "12"
        events.clear()
        resolvers["organisation.id"] = {"resolver": _org_b, "over_url": True}
        make_app(resolvers=resolvers).test_client().get("/orgs/12/items/abc")
        assert {e["organisation.id"] for e in events} == {"B"}
