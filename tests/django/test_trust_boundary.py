"""The trust boundary through the real Django handler: what clients can and cannot set."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler

from otel_context import RecordClientSpans, correlation
from otel_context.attributes import SERVER_OWNED

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instrumented")]
SPOOF = "user.id=42,organisation.id=7,correlation.id=upstream-c"


class TestTrustedHop:
    @pytest.fixture(autouse=True)
    def _trust(self, settings: pytest.FixtureRequest) -> None:
        settings.OTEL_CONTEXT = {  # type: ignore[attr-defined]
            "TRUST_UPSTREAM_IDENTIFIERS": True,
            "TRUSTED_NETWORKS": ["10.0.0.0/8"],
        }

    def test_upstream_ids_accepted_from_the_trusted_network(
        self, events: list[dict[str, object]]
    ) -> None:
        """An internal hop's baggage ids are this service's ids, on every line."""
        response = Client(REMOTE_ADDR="10.1.2.3").get("/whoami/", headers={"baggage": SPOOF})
        ids = response.json()["identifiers"]
        assert ids == {"user.id": "42", "organisation.id": "7", "correlation.id": "upstream-c"}
        assert response["Correlation-Id"] == "upstream-c"
        assert all(event["user.id"] == "42" for event in events)

    def test_same_request_from_outside_the_network_is_refused(
        self, events: list[dict[str, object]]
    ) -> None:
        """The same header from another peer: dropped, a fresh correlation id."""
        response = Client(REMOTE_ADDR="203.0.113.9").get("/whoami/", headers={"baggage": SPOOF})
        ids = response.json()["identifiers"]
        assert set(ids) == {"correlation.id"}
        assert ids["correlation.id"] != "upstream-c"
        assert all("user.id" not in event for event in events)

    def test_a_local_correlation_header_beats_upstream_baggage(self) -> None:
        """The header is the request's own id; baggage only fills in when it is absent."""
        response = Client(REMOTE_ADDR="10.1.2.3").get(
            "/plain/", headers={"baggage": SPOOF, "Correlation-Id": "from-header"}
        )
        assert response.json()["identifiers"]["correlation.id"] == "from-header"


class TestTrustedCorrelationProxy:
    def test_proxy_header_accepted_as_is_only_from_the_proxy(
        self, settings: pytest.FixtureRequest
    ) -> None:
        """TRUST_CORRELATION_ID: the proxy's own format passes; others are still validated."""
        settings.OTEL_CONTEXT = {"TRUST_CORRELATION_ID": True, "TRUSTED_NETWORKS": ["127.0.0.1/32"]}  # type: ignore[attr-defined]
        odd = "proxy/1+2=3"
        trusted = Client(REMOTE_ADDR="127.0.0.1").get("/plain/", headers={"Correlation-Id": odd})
        other = Client(REMOTE_ADDR="192.0.2.1").get("/plain/", headers={"Correlation-Id": odd})
        assert trusted["Correlation-Id"] == odd
        assert other["Correlation-Id"] != odd


junk_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from('\r\n\x00\t ,;=%+"\\é€\u2028abcXYZ019._:-')),
    st.builds(lambda ch, n: ch * n, st.characters(), st.integers(0, 65536)),
    st.uuids().map(str),
)
baggage_member = st.builds(
    lambda k, v: f"{k}={v}",
    st.sampled_from([*SERVER_OWNED, "amplitude.id", "k", "bad key", ""]),
    junk_text,
)
baggage_header = st.one_of(
    junk_text,
    st.lists(baggage_member, max_size=1000).map(",".join),
)
PROPERTY = settings(
    max_examples=2500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check(headers: dict[str, str], events: list[dict[str, object]]) -> None:
    events.clear()
    response = Client().get("/whoami/", headers=headers)
    assert response.status_code == 200
    cid = response["Correlation-Id"] if "Correlation-Id" in response else response["X-Request-ID"]
    assert correlation.is_valid(cid)
    for header, raw in headers.items():
        if header != "baggage" and not correlation.is_valid(raw.strip()):
            assert cid != raw.strip(), "an invalid client id must never be echoed"
            if len(raw.strip()) >= 8:
                assert raw.strip() not in repr(events), "nor logged"
    ids = response.json()["identifiers"]
    assert set(ids) == {"correlation.id"}, "no server-owned id may come from the client"
    assert ids["correlation.id"] == cid
    for event in events:
        assert event["correlation.id"] == cid
        assert "user.id" not in event
        assert "organisation.id" not in event


class TestHostileHeaders:
    """≥ 10,000 generated headers in all: no exception, no echo, caps hold, a valid id back."""

    @PROPERTY
    @given(value=junk_text)
    def test_correlation_id_header(self, value: str, events: list[dict[str, object]]) -> None:
        _check({"Correlation-Id": value}, events)

    @PROPERTY
    @given(value=junk_text)
    def test_x_request_id_header(self, value: str, events: list[dict[str, object]]) -> None:
        _check({"X-Request-ID": value}, events)

    @PROPERTY
    @given(value=baggage_header)
    def test_baggage_header(self, value: str, events: list[dict[str, object]]) -> None:
        _check({"baggage": value}, events)

    @PROPERTY
    @given(cid=junk_text, rid=junk_text, bag=baggage_header)
    def test_all_at_once(
        self, cid: str, rid: str, bag: str, events: list[dict[str, object]]
    ) -> None:
        _check({"Correlation-Id": cid, "X-Request-ID": rid, "baggage": bag}, events)


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, str]] = []  # noqa: RUF012 - shared by the server's threads on purpose

    def do_GET(self) -> None:
        self.received.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A real HTTP server on 127.0.0.1 recording the headers it receives."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Recorder.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def instrumented_requests(instrumented: TracerProvider) -> Iterator[None]:
    RequestsInstrumentor().instrument(tracer_provider=instrumented)
    yield
    RequestsInstrumentor().uninstrument()


@pytest.mark.usefixtures("instrumented_requests")
class TestOutboundOverRealHttp:
    def test_allowlisted_host_gets_ids_other_host_only_traceparent(
        self, recorder: tuple[int, list[dict[str, str]]], settings: pytest.FixtureRequest
    ) -> None:
        """Instrumented requests: 127.0.0.1 (allowed) gets the ids; 'localhost' (not) none."""
        settings.OTEL_CONTEXT = {"OUTBOUND_BAGGAGE_HOSTS": ["127.0.0.1"]}  # type: ignore[attr-defined]
        port, received = recorder
        client = Client()
        for url in (f"http://127.0.0.1:{port}/a", f"http://localhost:{port}/b"):
            response = client.get(
                "/call-out/",
                {"url": url},
                headers={"Correlation-Id": "out-1", "baggage": "user.id=666"},
            )
            assert response.status_code == 200
        allowed, other = received
        assert set(allowed["baggage"].split(",")) == {"correlation.id=out-1", "user.id=late-7"}
        assert "baggage" not in other
        for headers in (allowed, other):
            assert headers["traceparent"].startswith("00-")
            assert "666" not in headers.get("baggage", ""), "a client's baggage never travels on"


def _sampled_out(sampler: Sampler) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider(sampler=sampler)
    exporter = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer_provider.exporter = exporter  # type: ignore[attr-defined]
    yield tracer_provider
    tracer_provider.shutdown()


@pytest.mark.usefixtures("instrumented_requests")
class TestOutboundWhenSampledOut:
    """A sampled-out request's outgoing calls still go by the destination policy."""

    @pytest.fixture
    def provider(self) -> Iterator[TracerProvider]:
        yield from _sampled_out(RecordClientSpans(ParentBased(ALWAYS_OFF)))

    def test_allowlisted_host_still_gets_ids_and_nothing_is_exported(
        self,
        recorder: tuple[int, list[dict[str, str]]],
        settings: pytest.FixtureRequest,
        exporter: InMemorySpanExporter,
    ) -> None:
        settings.OTEL_CONTEXT = {"OUTBOUND_BAGGAGE_HOSTS": ["127.0.0.1"]}  # type: ignore[attr-defined]
        port, received = recorder
        client = Client()
        for url in (f"http://127.0.0.1:{port}/a", f"http://localhost:{port}/b"):
            response = client.get("/call-out/", {"url": url}, headers={"Correlation-Id": "so-1"})
            assert response.status_code == 200
        allowed, other = received
        assert set(allowed["baggage"].split(",")) == {"correlation.id=so-1", "user.id=late-7"}
        assert allowed["correlation-id"] == "so-1"
        assert "baggage" not in other
        assert "correlation-id" not in other
        for headers in (allowed, other):
            flags = int(headers["traceparent"].rsplit("-", 1)[1], 16)
            assert flags & 0x01 == 0, "traceparent still says 'not sampled'"
        assert exporter.get_finished_spans() == (), "recorded client spans are never exported"


@pytest.mark.usefixtures("instrumented_requests")
class TestOutboundWhenSampledOutWithoutTheWrapper:
    """Without RecordClientSpans the destination is unknown, and the policy fails closed."""

    @pytest.fixture
    def provider(self) -> Iterator[TracerProvider]:
        yield from _sampled_out(ParentBased(ALWAYS_OFF))

    def test_even_the_allowlisted_host_gets_no_ids(
        self, recorder: tuple[int, list[dict[str, str]]], settings: pytest.FixtureRequest
    ) -> None:
        settings.OTEL_CONTEXT = {"OUTBOUND_BAGGAGE_HOSTS": ["127.0.0.1"]}  # type: ignore[attr-defined]
        port, received = recorder
        response = Client().get(
            "/call-out/", {"url": f"http://127.0.0.1:{port}/a"}, headers={"Correlation-Id": "so-2"}
        )
        assert response.status_code == 200
        (headers,) = received
        assert "baggage" not in headers
        assert "correlation-id" not in headers
