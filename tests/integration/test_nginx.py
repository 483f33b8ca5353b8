"""nginx in front of the example service: ``example/deploy/nginx.conf`` run for real.

The app (gunicorn) runs as docs/deployments.md says an app behind this proxy
should: ``OTEL_CONTEXT_TRUST_CORRELATION_ID=true`` and
``OTEL_CONTEXT_TRUSTED_NETWORKS=127.0.0.1/32`` from the environment (the example's
``OTEL_CONTEXT`` setting names neither, so the environment decides), and
``TRUST_UPSTREAM_IDENTIFIERS`` left false. Requests go through nginx unless a test says
"direct": a direct request also comes from 127.0.0.1, a trusted peer, which shows what the
app would accept from a proxy that did not check the client's value.

Needs the ``nginx`` binary (Debian package ``nginx``). Without it the tests skip, except
under ``CI=true``, where ``.ci/run`` installs it and its absence is a failure.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import requests

from example.app import demo_data
from tests._servers import ServiceFiles, copy_db, read_json_lines, running_gunicorn, user_ids
from tests.integration._baggage import sized
from tests.integration._load import PROJECT_PATH, TIMEOUT, hex_id
from tests.integration._nginx import (
    NGINX_CONFIG,
    SNIPPETS,
    Nginx,
    nginx_binary,
    nginx_command,
    running_nginx,
    write_config,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

HEX32 = re.compile(r"[0-9a-f]{32}")
APP_ENV = {
    "OTEL_CONTEXT_TRUST_CORRELATION_ID": "true",
    "OTEL_CONTEXT_TRUSTED_NETWORKS": "127.0.0.1/32",
    # Export spans every 50 ms, so a test can read its span while the server runs.
    "OTEL_BSP_SCHEDULE_DELAY": "50",
}
#: project_detail logs 4 lines per request (see tests/integration/_load.py).
LINES_PER_REQUEST = 4


@pytest.fixture(scope="module")
def nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        reason = "nginx is not installed (apt-get install nginx)"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{reason}; .ci/run installs it, so under CI=true it must be here")
        pytest.skip(reason)
    return binary


class Stack:
    """nginx in front of gunicorn, both running for this module's tests."""

    def __init__(self, proxy: Nginx, app_url: str, files: ServiceFiles, alice: str) -> None:
        self.proxy = proxy
        self.app_url = app_url
        self.files = files
        self.alice = alice

    def get(self, headers: dict[str, str], *, direct: bool = False) -> requests.Response:
        """GET the project view as alice, through nginx (or *direct* to the app)."""
        base = self.app_url if direct else self.proxy.base_url
        url = f"{base}{PROJECT_PATH}?probe={uuid.uuid4().hex}"
        auth = {"Authorization": f"Token {demo_data.user_token('alice')}"}
        return requests.get(url, headers={**auth, **headers}, timeout=TIMEOUT)

    def lines(self, correlation_id: str) -> list[dict[str, Any]]:
        return [
            line
            for line in read_json_lines(self.files.log_file)
            if line.get("correlation.id") == correlation_id
        ]

    def span(self, correlation_id: str, timeout: float = 10) -> dict[str, Any]:
        """The server span with this correlation id, once the app has exported it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for span in read_json_lines(self.files.span_file):
                if span["attributes"].get("correlation.id") == correlation_id:
                    return span
            time.sleep(0.05)
        msg = f"no span with correlation.id {correlation_id!r} after {timeout} s"
        raise AssertionError(msg)

    def access_line(self, response: requests.Response, timeout: float = 5) -> str:
        """nginx's access-log line of *response*'s request (found by its unique query)."""
        probe = response.request.path_url
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.proxy.access_log().splitlines():
                if probe in line:
                    return line
            time.sleep(0.05)
        msg = f"no access-log line for {probe}"
        raise AssertionError(msg)

    def nginx_request_id(self, response: requests.Response) -> str:
        match = re.search(r"request_id=([0-9a-f]{32})", self.access_line(response))
        assert match, self.access_line(response)
        return match.group(1)


@pytest.fixture(scope="module")
def stack(
    nginx: str, tmp_path_factory: pytest.TempPathFactory, example_db_template: Path
) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("nginx-stack")
    files = ServiceFiles.in_dir(directory / "app")
    copy_db(example_db_template, files.db)
    alice = user_ids(files.db)["alice"]
    with running_gunicorn(files, workers=1, threads=4, env=APP_ENV) as app:
        upstream = app.base_url.removeprefix("http://")
        with running_nginx(nginx, directory / "nginx", upstream) as proxy:
            yield Stack(proxy, app.base_url, files, alice)


class TestCorrelationIdThroughNginx:
    def test_request_without_an_id_gets_nginx_request_id_everywhere(self, stack: Stack) -> None:
        """No Correlation-Id: nginx's $request_id is in the response, each log line, the span.

        The id is the one nginx logged as ``request_id`` for that request, not one the app
        generated (both would be 32 hex characters).
        """
        response = stack.get({})
        assert response.status_code == 200
        correlation_id = response.headers["Correlation-Id"]
        assert correlation_id == stack.nginx_request_id(response)
        assert HEX32.fullmatch(correlation_id)
        lines = stack.lines(correlation_id)
        assert len(lines) == LINES_PER_REQUEST
        assert {line["user.id"] for line in lines} == {stack.alice}
        assert stack.span(correlation_id)["attributes"]["user.id"] == stack.alice

    def test_client_id_in_a_safe_shape_is_passed_through(self, stack: Stack) -> None:
        """A client's ``Correlation-Id`` in the safe shape reaches the app unchanged."""
        correlation_id = f"client-{uuid.uuid4()}"
        response = stack.get({"Correlation-Id": correlation_id})
        assert response.headers["Correlation-Id"] == correlation_id
        assert f"correlation_id={correlation_id} " in stack.access_line(response)
        assert len(stack.lines(correlation_id)) == LINES_PER_REQUEST

    @pytest.mark.parametrize(
        "junk",
        ["drop table users; --", "<script>alert(1)</script>", "x" * 129],
        ids=["spaces", "markup", "too-long"],
    )
    def test_junk_id_is_replaced_by_nginx_request_id(self, stack: Stack, junk: str) -> None:
        """An id outside the safe shape never reaches the app: nginx sends its $request_id.

        The app trusts whatever header-safe value its proxy sends, so the check is nginx's;
        the junk is in no response header and no log line.
        """
        response = stack.get({"Correlation-Id": junk})
        correlation_id = response.headers["Correlation-Id"]
        assert correlation_id == stack.nginx_request_id(response)
        assert len(stack.lines(correlation_id)) == LINES_PER_REQUEST
        assert junk not in stack.files.log_file.read_text()

    def test_client_x_request_id_is_overridden_too(self, stack: Stack) -> None:
        """A client's own ``X-Request-ID`` (the app's second header) is replaced as well."""
        response = stack.get({"X-Request-ID": "<forged>"})
        assert response.headers["Correlation-Id"] == stack.nginx_request_id(response)
        assert "<forged>" not in stack.files.log_file.read_text()


class TestTrustedPeerWithoutNginx:
    """What the app takes from a trusted peer: why nginx, not the app, checks the client."""

    def test_header_safe_value_is_taken_as_sent(self, stack: Stack) -> None:
        """Direct from 127.0.0.1 (trusted), ``<not-a-token>`` is accepted as is.

        This also shows the environment variables took effect: untrusted, the app would
        have replaced it.
        """
        response = stack.get({"Correlation-Id": "<not-a-token>"}, direct=True)
        assert response.headers["Correlation-Id"] == "<not-a-token>"
        assert len(stack.lines("<not-a-token>")) == LINES_PER_REQUEST

    def test_value_with_spaces_is_replaced_even_from_a_trusted_peer(self, stack: Stack) -> None:
        """Spaces are not header-safe: the app generates its own id and never logs the value."""
        response = stack.get({"Correlation-Id": "two words"}, direct=True)
        correlation_id = response.headers["Correlation-Id"]
        assert HEX32.fullmatch(correlation_id)
        assert len(stack.lines(correlation_id)) == LINES_PER_REQUEST
        assert "two words" not in stack.files.log_file.read_text()


class TestTraceContextAndBaggage:
    def test_traceparent_is_forwarded(self, stack: Stack) -> None:
        """The client's trace continues: the span and every line have its trace id."""
        trace_id = secrets.token_hex(16)
        correlation_id = f"trace-{uuid.uuid4().hex}"
        headers = {
            "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
            "Correlation-Id": correlation_id,
        }
        assert stack.get(headers).status_code == 200
        span = stack.span(correlation_id)
        assert hex_id(span["context"]["trace_id"]) == trace_id
        assert {line["trace_id"] for line in stack.lines(correlation_id)} == {trace_id}

    def test_client_baggage_is_dropped_at_the_edge(self, stack: Stack) -> None:
        """Client baggage never reaches the app through nginx; sent direct, the app drops it.

        Through nginx the span has no dropped-baggage count (nothing arrived); direct, the
        app's own filter drops all 3 entries. Either way ``user.id`` is alice's.
        """
        baggage = {"baggage": "user.id=42,organisation.id=666,colour=blue"}
        ids = {name: f"bag-{name}-{uuid.uuid4().hex}" for name in ("proxy", "direct")}
        stack.get({**baggage, "Correlation-Id": ids["proxy"]})
        stack.get({**baggage, "Correlation-Id": ids["direct"]}, direct=True)

        proxied, direct = stack.span(ids["proxy"]), stack.span(ids["direct"])
        assert "otel_context.baggage.dropped" not in proxied["attributes"]
        assert direct["attributes"]["otel_context.baggage.dropped"] == 3
        for span in (proxied, direct):
            assert span["attributes"]["user.id"] == stack.alice
            assert span["attributes"]["organisation.id"] == "1"

    @pytest.mark.parametrize("size", [8192, 8193])
    def test_w3c_sized_baggage_header_is_served(self, stack: Stack, size: int) -> None:
        """8,192 bytes of baggage (the W3C limit) and one more: served through nginx and direct.

        nginx's default ``large_client_header_buffers 4 8k`` answers 400 to a header line over
        8 KiB ("baggage: " + 8,192 bytes is one); the shipped config raises it. Through nginx
        the baggage is dropped as always; direct, one byte over costs the app one whole member.
        """
        ids = {name: f"big-{name}-{uuid.uuid4().hex}" for name in ("proxy", "direct")}
        headers = {"baggage": sized(size)}
        assert stack.get({**headers, "Correlation-Id": ids["proxy"]}).status_code == 200
        direct = stack.get({**headers, "Correlation-Id": ids["direct"]}, direct=True)
        assert direct.status_code == 200
        assert "otel_context.baggage.over_limit" not in stack.span(ids["proxy"])["attributes"]
        attributes = stack.span(ids["direct"])["attributes"]
        assert attributes.get("otel_context.baggage.over_limit") == (size - 8192 or None)


class TestConfigFile:
    def _check(self, nginx: str, config: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            nginx_command(nginx, config, "-t"),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def test_shipped_config_passes_nginx_t(self, nginx: str, tmp_path: Path) -> None:
        """``nginx -t`` accepts example/deploy/nginx.conf with its snippets, as shipped.

        It runs on a copy in tmp_path (same addresses): nginx writes its logs and temp
        directories under the config's directory.
        """
        config = write_config(tmp_path, listen_port=8080, upstream="127.0.0.1:8000")
        assert config.read_text() == NGINX_CONFIG.read_text()
        result = self._check(nginx, config)
        assert result.returncode == 0, result.stderr
        assert "test is successful" in result.stderr

    def test_config_without_the_map_snippet_fails_nginx_t(self, nginx: str, tmp_path: Path) -> None:
        """Without otel_context_http.conf the proxy snippet names an unknown variable."""
        config = write_config(tmp_path, listen_port=8080, upstream="127.0.0.1:8000")
        text = config.read_text().replace(f"include {SNIPPETS[0]};", "")
        config.write_text(text)
        result = self._check(nginx, config)
        assert result.returncode != 0
        assert 'unknown "otel_context_correlation_id" variable' in result.stderr
