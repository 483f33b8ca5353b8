"""Where request context usually gets lost: DRF, streaming, thread pools, async views, commands."""

from __future__ import annotations

import io

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.test import AsyncClient, Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rest_framework.authtoken.models import Token

from otel_context.django.streaming import wants_hand_over
from otel_context.scope import current_scope

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instrumented")]


@pytest.fixture
def token() -> tuple[str, str]:
    user = get_user_model().objects.create_user("tok", password="pw")  # noqa: S106
    return Token.objects.create(user=user).key, str(user.pk)


class TestDrfAuthentication:
    def test_token_user_on_events_after_authentication_and_on_the_span(
        self,
        token: tuple[str, str],
        events: list[dict[str, object]],
        exporter: InMemorySpanExporter,
    ) -> None:
        """DRF authenticates inside the view; events after that carry user.id, so does the span."""
        key, pk = token
        response = Client().get("/drf/token/", headers={"Authorization": f"Token {key}"})
        assert response.status_code == 200
        (event,) = [e for e in events if e["event"] == "drf.after_auth"]
        assert event["user.id"] == pk
        assert response.json()["identifiers"]["user.id"] == pk
        (span,) = exporter.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes["user.id"] == pk

    @pytest.mark.usefixtures("organisation_of_user")
    def test_user_dependent_resolver_runs_again_after_authentication(
        self, token: tuple[str, str], events: list[dict[str, object]]
    ) -> None:
        """organisation.id from a resolver that needs the user: known once DRF authenticated."""
        key, pk = token
        Client().get("/drf/token/", headers={"Authorization": f"Token {key}"})
        (event,) = [e for e in events if e["event"] == "drf.after_auth"]
        assert event["organisation.id"] == f"org-of-{pk}"

    def test_api_key_principal_binds_no_user(self, events: list[dict[str, object]]) -> None:
        """An authenticated principal that is not a user has no user.id."""
        response = Client().get("/drf/api-key/", headers={"X-Api-Key": "k-1"})
        assert response.status_code == 200
        assert "user.id" not in response.json()["identifiers"]
        assert all("user.id" not in event for event in events)


class TestStreaming:
    def _check(self, events: list[dict[str, object]], exporter: InMemorySpanExporter) -> None:
        chunks = [e for e in events if e["event"] == "stream.chunk"]
        assert [e["index"] for e in chunks] == list(range(5))
        spans = {span.name: span for span in exporter.get_finished_spans()}
        server = spans["GET stream/"] if "GET stream/" in spans else spans["GET stream-async/"]
        stream = spans[f"{server.name} stream"]
        assert stream.parent is not None
        assert stream.parent.span_id == server.context.span_id
        for event in chunks:
            assert event["correlation.id"] == "stream-1"
            assert event["trace_id"] == f"{server.context.trace_id:032x}"
            assert event["span_id"] == f"{stream.context.span_id:016x}"
        assert stream.end_time is not None
        assert stream.end_time >= server.end_time  # type: ignore[operator]

    def test_sync_chunks_carry_the_ids_and_a_child_span_covers_them(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """Events logged while a sync body streams carry the request's ids and trace."""
        response = Client().get("/stream/", headers={"Correlation-Id": "stream-1"})
        assert response["Correlation-Id"] == "stream-1"
        assert current_scope() is None
        body = b"".join(response.streaming_content)  # type: ignore[arg-type]
        assert body.count(b"chunk") == 5
        self._check(events, exporter)
        assert current_scope() is None

    def test_async_chunks_carry_the_ids(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """The same for an async iterator served through the ASGI handler."""

        async def fetch() -> bytes:
            response = await AsyncClient().get(
                "/stream-async/", headers={"Correlation-Id": "stream-1"}
            )
            return b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[union-attr]

        assert async_to_sync(fetch)().count(b"chunk") == 5
        self._check(events, exporter)

    def test_async_body_closed_before_its_first_chunk_ends_span_and_scope(
        self, exporter: InMemorySpanExporter
    ) -> None:
        """ASGI client gone before the first chunk: Django's response.close() ends the span."""

        async def fetch_and_close() -> None:
            response = await AsyncClient().get("/stream-async/")
            await sync_to_async(response.close)()

        async_to_sync(fetch_and_close)()
        names = [span.name for span in exporter.get_finished_spans()]
        assert names.count("GET stream-async/ stream") == 1

    def test_abandoned_stream_still_ends_its_span(self, exporter: InMemorySpanExporter) -> None:
        """A client that stops reading: closing the body ends the span and the scope."""
        response = Client().get("/stream/")
        iterator = iter(response.streaming_content)  # type: ignore[arg-type]
        next(iterator)
        response.close()
        names = [span.name for span in exporter.get_finished_spans()]
        assert "GET stream/ stream" in names

    def test_body_closed_before_its_first_chunk_ends_span_and_scope(
        self, exporter: InMemorySpanExporter
    ) -> None:
        """A client gone before the first chunk: close() alone still ends the stream span."""
        response = Client().get("/stream/")
        response.close()  # never iterated
        names = [span.name for span in exporter.get_finished_spans()]
        assert names.count("GET stream/ stream") == 1
        assert current_scope() is None

    def test_only_bodies_the_app_streams_are_handed_over(self) -> None:
        """A FileResponse (sent with wsgi.file_wrapper when offered) and plain responses are not."""
        assert wants_hand_over(StreamingHttpResponse(iter([b"x"])))
        assert not wants_hand_over(FileResponse(io.BytesIO(b"x")))
        assert not wants_hand_over(HttpResponse(b"x"))

    def test_file_response_keeps_sendfile_and_is_not_handed_over(
        self, exporter: InMemorySpanExporter
    ) -> None:
        """A FileResponse keeps file_to_stream (wsgi.file_wrapper); no stream span, scope ends."""
        response = Client().get("/download/", headers={"Correlation-Id": "file-1"})
        assert response["Correlation-Id"] == "file-1"
        assert b"".join(response.streaming_content) == b"file bytes"  # type: ignore[arg-type]
        response.close()
        assert [span.name for span in exporter.get_finished_spans()] == ["GET download/"]
        assert current_scope() is None


class TestThreadPool:
    def test_ids_reach_the_worker_only_through_the_helper(
        self, events: list[dict[str, object]]
    ) -> None:
        """ThreadPoolExecutor loses every contextvar; ContextExecutor carries them."""
        response = Client().get("/threads/", headers={"Correlation-Id": "pool-1"})
        result = response.json()
        assert result["plain"] == {}, "control: a bare pool sees nothing"
        assert result["carried"] == {"correlation.id": "pool-1"}
        by_task = {e["task"]: e for e in events if e["event"] == "task.ran"}
        assert "correlation.id" not in by_task["plain"]
        assert "trace_id" not in by_task["plain"]
        assert by_task["carried"]["correlation.id"] == "pool-1"
        assert "trace_id" in by_task["carried"]

    def test_work_that_outlives_the_request_keeps_its_snapshot(
        self, events: list[dict[str, object]], tracer: object
    ) -> None:
        """Flagsmith's pattern: submit, and the task runs after the request has ended."""
        import threading

        import otel_context
        from otel_context.scope import scoped

        gate = threading.Event()
        seen: list[dict[str, str]] = []

        def task() -> None:
            gate.wait(5)
            seen.append(otel_context.get_identifiers())

        with scoped(user__id="7") as request_scope:
            thread = threading.Thread(target=otel_context.with_context(task))
            thread.start()
        assert request_scope.closed
        gate.set()
        thread.join(5)
        assert seen == [{"user.id": "7"}]


class TestAsyncViews:
    def test_async_view_gets_ids_and_late_binds(self, events: list[dict[str, object]]) -> None:
        """An async view under the ASGI handler: URL-kwarg ids, bind() across an await."""

        async def fetch() -> dict[str, str]:
            response = await AsyncClient().get("/async/orgs/3/", headers={"Correlation-Id": "as-1"})
            assert response["Correlation-Id"] == "as-1"
            return response.json()["identifiers"]  # type: ignore[no-any-return]

        ids = async_to_sync(fetch)()
        assert ids == {"correlation.id": "as-1", "organisation.id": "3", "feature": "async"}
        start, end = (e for e in events if e["event"].startswith("async."))  # type: ignore[union-attr]
        assert start["organisation.id"] == end["organisation.id"] == "3"
        assert end["feature"] == "async"
        assert start["trace_id"] == end["trace_id"]
        assert current_scope() is None


class TestManagementCommand:
    def test_traced_command_has_a_root_span_and_correlation_id(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """A command using TracedCommandMixin: its events share a span and a correlation id."""
        call_command("traced_example", stdout=io.StringIO())
        (span,) = [s for s in exporter.get_finished_spans() if s.name == "manage.py traced_example"]
        command_events = [e for e in events if e["event"] == "command.ran"]
        assert len(command_events) == 2
        assert {e["trace_id"] for e in command_events} == {f"{span.context.trace_id:032x}"}
        assert len({e["correlation.id"] for e in command_events}) == 1
        assert span.attributes is not None
        assert span.attributes["command.name"] == "traced_example"
        assert current_scope() is None
