"""Correlation ids: safe shapes accepted, anything else replaced."""

from __future__ import annotations

import os
import re
import uuid

import pytest

from otel_context import correlation


class TestIsValid:
    @pytest.mark.parametrize(
        "value",
        [
            str(uuid.uuid4()),
            str(uuid.uuid1()),
            uuid.uuid4().hex,
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "req_01:abc.DEF-9",
            "a" * 128,
        ],
    )
    def test_accepted(self, value: str) -> None:
        """UUIDs, 32-hex (nginx $request_id, W3C trace ids) and short safe tokens."""
        assert correlation.is_valid(value)

    @pytest.mark.parametrize(
        "value",
        ["", "a" * 129, "a b", "x\r\nSet-Cookie: y", "<script>", "é", "a\x00b", "a/b", "a,b"],
    )
    def test_rejected(self, value: str) -> None:
        """Whitespace, controls, non-ASCII, markup and overlong values are refused."""
        assert not correlation.is_valid(value)


class TestFromHeaders:
    def test_first_present_header_wins(self) -> None:
        """Header order is the configured order."""
        headers = {"X-Request-ID": "r-1", "Correlation-Id": "c-1"}
        assert correlation.from_headers(headers.get, ["Correlation-Id", "X-Request-ID"]) == (
            "c-1",
            "Correlation-Id",
        )

    def test_invalid_value_replaced_but_header_kept(self) -> None:
        """The response echoes the new id under the header the client used."""
        value, header = correlation.from_headers(
            {"X-Request-ID": "bad value"}.get, ["X-Request-ID"]
        )
        assert header == "X-Request-ID"
        assert value != "bad value"
        assert correlation.is_valid(value)

    def test_generated_when_absent(self) -> None:
        """No header: a generated id and no header name."""
        value, header = correlation.from_headers({}.get, ["Correlation-Id"])
        assert header is None
        assert len(value) == 32

    def test_trusted_proxy_value_accepted_as_is_but_still_header_safe(self) -> None:
        """Trusted mode keeps the proxy's value, but never CR/LF or controls."""
        ok = "proxy/id+with=chars"
        assert correlation.from_headers({"C": ok}.get, ["C"], trusted=True)[0] == ok
        bad, _ = correlation.from_headers({"C": "a\r\nb"}.get, ["C"], trusted=True)
        assert bad != "a\r\nb"
        assert correlation.is_valid(bad)


class TestRandomId:
    def test_shape_and_no_repeats(self) -> None:
        """32 lower-case hex digits (128 bits, a W3C trace id's shape); 20,000 all distinct."""
        ids = {correlation.random_id() for _ in range(20_000)}
        assert len(ids) == 20_000
        assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)

    def test_a_forked_worker_draws_other_ids_than_its_parent(self) -> None:
        """gunicorn forks its workers: each must draw its own ids, not repeat the parent's."""
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: send its first id and leave at once
            os.write(write, correlation.random_id().encode())
            os._exit(0)
        os.close(write)
        parent = correlation.random_id()
        with os.fdopen(read) as pipe:
            child = pipe.read()
        os.waitpid(pid, 0)
        assert re.fullmatch(r"[0-9a-f]{32}", child)
        assert child != parent


class TestGenerate:
    def test_custom_generator(self) -> None:
        """A configured generator is used."""
        assert correlation.generate(lambda: "custom-1") == "custom-1"

    @pytest.mark.parametrize("generator", [lambda: 1 / 0, lambda: "bad id", lambda: 7])
    def test_broken_generator_falls_back(
        self, generator: object, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A generator that raises or returns junk: a UUID instead, and an error logged."""
        value = correlation.generate(generator)  # type: ignore[arg-type]
        assert len(value) == 32
        assert "CORRELATION_ID_GENERATOR" in caplog.text
