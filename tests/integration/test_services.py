"""Two real services: the example web service calls the pricing service during a request.

Both run under gunicorn on 127.0.0.1 and write their own log and span files. One request to
the web service's quote view makes it call pricing with ``requests`` (instrumented), which
sends ``traceparent`` and, 127.0.0.1 being one of our hosts, the ids as ``baggage``.

Pricing runs twice: trusting 127.0.0.1 as an internal hop (``TRUST_UPSTREAM_IDENTIFIERS`` with
``TRUSTED_NETWORKS``), then not. Without trust pricing drops the server-owned baggage
(``user.id`` and the others), but it still gets the correlation id: the propagator sends it
to our own hosts as the ``Correlation-Id`` header too, which any service accepts after
validating its shape. So both the trace id and the correlation id join the two services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests

from example.app import demo_data
from example.processes import PRICING_SERVICE, WEB_SERVICE, start_pricing
from tests._servers import ServiceFiles, copy_db, read_json_lines, running_gunicorn, user_ids

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

QUOTE_PATH = "/api/v1/organisations/1/projects/1/quote/"
PRICING_EVENTS = ["pricing.quote.requested", "pricing.price.computed"]
CALLER_IDS = ("user.id", "organisation.id", "project.id")


@dataclass
class Hop:
    """One quote request through both services, and what each of them recorded."""

    status: int
    body: dict[str, Any]
    correlation_id: str
    alice: str
    web_lines: list[dict[str, Any]]
    pricing_lines: list[dict[str, Any]]
    web_spans: list[dict[str, Any]]
    pricing_spans: list[dict[str, Any]]
    exit_codes: tuple[int | None, int | None]

    @property
    def trace_id(self) -> str:
        (trace_id,) = {
            line["trace_id"]
            for line in self.web_lines
            if line.get("correlation.id") == self.correlation_id
        }
        return str(trace_id)

    def lines(self, key: str, value: str) -> list[dict[str, Any]]:
        """The lines of both services whose *key* is *value*."""
        return [line for line in self.web_lines + self.pricing_lines if line.get(key) == value]

    def pricing_request_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.pricing_lines if line["event"] in PRICING_EVENTS]

    def span(self, spans: list[dict[str, Any]], kind: str, route: str) -> dict[str, Any]:
        (span,) = (
            s
            for s in spans
            if s["kind"] == f"SpanKind.{kind}"
            and route in s["name"] + s["attributes"].get("http.url", "")
        )
        return span


def _run_hop(directory: Path, template_db: Path, *, trust: bool) -> Hop:
    web_files = ServiceFiles.in_dir(directory / "web")
    copy_db(template_db, web_files.db)
    pricing_files = ServiceFiles.in_dir(directory / "pricing")
    pricing = start_pricing(pricing_files, trust_caller=trust)
    env = {"OTEL_SERVICE_NAME": WEB_SERVICE, "EXAMPLE_PRICING_URL": pricing.base_url}
    env["EXAMPLE_BROKER_URL"] = ""  # no Celery here: test_demo.py runs the task part
    try:
        with running_gunicorn(web_files, workers=1, threads=2, env=env) as web:
            response = requests.get(
                web.url(QUOTE_PATH),
                headers={"Authorization": f"Token {demo_data.user_token('alice')}"},
                timeout=10,
            )
    finally:
        pricing.stop()
    return Hop(
        status=response.status_code,
        body=response.json(),
        correlation_id=response.headers["Correlation-Id"],
        alice=user_ids(web_files.db)["alice"],
        web_lines=read_json_lines(web_files.log_file),
        pricing_lines=read_json_lines(pricing_files.log_file),
        web_spans=read_json_lines(web_files.span_file),
        pricing_spans=read_json_lines(pricing_files.span_file),
        exit_codes=(web.process.returncode, pricing.process.returncode),
    )


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory, example_db_template: Path) -> Hop:
    return _run_hop(tmp_path_factory.mktemp("trusted"), example_db_template, trust=True)


@pytest.fixture(scope="module")
def untrusted(tmp_path_factory: pytest.TempPathFactory, example_db_template: Path) -> Hop:
    return _run_hop(tmp_path_factory.mktemp("untrusted"), example_db_template, trust=False)


class TestTrustedHop:
    def test_the_request_succeeds_and_both_servers_exit_cleanly(self, trusted: Hop) -> None:
        """200 from the web service with pricing's quote in it; both stop with status 0."""
        assert trusted.status == 200, trusted.body
        assert trusted.body["quote"]["total"] == "86.50"
        assert trusted.exit_codes == (0, 0)

    def test_lines_of_both_services_join_by_trace_id_and_by_correlation_id(
        self, trusted: Hop
    ) -> None:
        """The same lines are found by the trace id and by the correlation id, in both files."""
        by_trace = trusted.lines("trace_id", trusted.trace_id)
        by_correlation = trusted.lines("correlation.id", trusted.correlation_id)
        assert by_trace == by_correlation
        services = [line["service.name"] for line in by_trace]
        assert services.count(PRICING_SERVICE) == 2
        assert services.count(WEB_SERVICE) >= 3

    def test_pricing_logs_its_two_events_with_the_callers_ids(self, trusted: Hop) -> None:
        """Pricing's events (one from a helper given no ids) carry the caller's ids."""
        lines = trusted.pricing_request_lines()
        assert [line["event"] for line in lines] == PRICING_EVENTS
        expected = {"user.id": trusted.alice, "organisation.id": "1", "project.id": "1"}
        for line in lines:
            assert {key: line.get(key) for key in CALLER_IDS} == expected
            assert line["correlation.id"] == trusted.correlation_id
            assert line["trace_id"] == trusted.trace_id

    def test_pricing_sees_the_same_identifiers_as_the_caller(self, trusted: Hop) -> None:
        """get_identifiers() in pricing's view equals the web view's."""
        assert trusted.body["quote"]["identifiers"] == trusted.body["identifiers"]

    def test_pricing_server_span_is_a_child_of_the_client_span(self, trusted: Hop) -> None:
        """web SERVER -> web CLIENT (requests) -> pricing SERVER, in one trace."""
        server = trusted.span(trusted.web_spans, "SERVER", "/quote/")
        client = trusted.span(trusted.web_spans, "CLIENT", "/api/v1/pricing/quote/")
        remote = trusted.span(trusted.pricing_spans, "SERVER", "api/v1/pricing/quote/")
        assert client["parent_id"] == server["context"]["span_id"]
        assert remote["parent_id"] == client["context"]["span_id"]
        trace_ids = {s["context"]["trace_id"] for s in (server, client, remote)}
        assert trace_ids == {f"0x{trusted.trace_id}"}
        assert remote["attributes"]["user.id"] == trusted.alice


class TestOneTypePerIdentifier:
    def test_every_identifier_is_a_string_on_every_line_of_both_services(
        self, trusted: Hop
    ) -> None:
        """The web view passes ints at its call site, pricing gets baggage: all strings."""
        (served,) = [line for line in trusted.web_lines if line["event"] == "quote.served"]
        assert (served["organisation.id"], served["project.id"]) == ("1", "1")
        keys = {*CALLER_IDS, "correlation.id", "environment.id"}
        types = {
            (key, type(line[key]).__name__)
            for line in trusted.web_lines + trusted.pricing_lines
            for key in keys & line.keys()
        }
        assert {kind for _, kind in types} == {"str"}, types
        assert {key for key, _ in types} >= set(CALLER_IDS)

    def test_and_on_the_spans(self, trusted: Hop) -> None:
        """Every span attribute named like an identifier is a string, in both services."""
        keys = {*CALLER_IDS, "correlation.id"}
        values = [
            span["attributes"][key]
            for span in trusted.web_spans + trusted.pricing_spans
            for key in keys & span["attributes"].keys()
        ]
        assert values
        assert all(isinstance(value, str) for value in values)


class TestUntrustedHop:
    def test_the_trace_id_still_joins_the_two_services(self, untrusted: Hop) -> None:
        """traceparent is not an identifier: pricing's lines are in the caller's trace."""
        assert untrusted.status == 200, untrusted.body
        lines = untrusted.pricing_request_lines()
        assert [line["event"] for line in lines] == PRICING_EVENTS
        assert {line["trace_id"] for line in lines} == {untrusted.trace_id}
        assert untrusted.exit_codes == (0, 0)

    def test_the_correlation_id_still_joins_the_two_services(self, untrusted: Hop) -> None:
        """Baggage correlation.id is dropped, but the Correlation-Id header carries it."""
        (own,) = {line["correlation.id"] for line in untrusted.pricing_request_lines()}
        assert own == untrusted.correlation_id
        assert untrusted.body["quote"]["identifiers"] == {"correlation.id": own}

    def test_no_caller_ids_are_accepted(self, untrusted: Hop) -> None:
        """Without trust, user.id / organisation.id / project.id never reach pricing's lines."""
        for line in untrusted.pricing_lines:
            assert not set(CALLER_IDS) & line.keys(), line

    def test_the_dropped_entries_are_counted_on_the_server_span(self, untrusted: Hop) -> None:
        """The four ids the caller sent are dropped, and counted (never logged) on the span."""
        remote = untrusted.span(untrusted.pricing_spans, "SERVER", "api/v1/pricing/quote/")
        assert remote["attributes"]["otel_context.baggage.dropped"] == 4
        assert remote["context"]["trace_id"] == f"0x{untrusted.trace_id}"
