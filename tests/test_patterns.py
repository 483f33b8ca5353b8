"""Host and key matchers of the baggage policies."""

from __future__ import annotations

import pytest

from otel_context.conf import DEFAULT_OUTBOUND_HOSTS
from otel_context.patterns import host_allowed, key_allowed


class TestHostAllowed:
    @pytest.mark.parametrize(
        ("host", "expected"),
        [
            ("flags-api", True),
            ("FLAGS-API.", True),
            ("localhost", True),
            ("127.0.0.1", True),
            ("[::1]", True),
            ("a.internal", True),
            ("a.b.c.internal", True),
            ("internal", True),  # single label
            ("x.ns.svc.cluster.local", True),
            ("api.stripe.com", False),
            ("internal.evil.com", False),
            ("evil.com", False),
            ("10.0.0.5", False),
            ("127.0.0.2", False),
            ("", False),
        ],
    )
    def test_defaults(self, host: str, expected: bool) -> None:
        """The default list is our own services only."""
        assert host_allowed(host, DEFAULT_OUTBOUND_HOSTS) is expected

    def test_double_star_alone_is_every_host(self) -> None:
        """'**' opts out of the host policy."""
        assert host_allowed("api.stripe.com", ["**"])
        assert host_allowed("10.0.0.5", ["**"])

    def test_single_star_is_one_label(self) -> None:
        """'*.example.com' does not match deeper names; '**.example.com' does."""
        assert host_allowed("a.example.com", ["*.example.com"])
        assert not host_allowed("a.b.example.com", ["*.example.com"])
        assert host_allowed("a.b.example.com", ["**.example.com"])
        assert not host_allowed("example.com", ["**.example.com"])


class TestKeyAllowed:
    @pytest.mark.parametrize(
        ("key", "rules", "expected"),
        [
            ("user.id", ["*"], True),
            ("user.id", ["user.id"], True),
            ("user.idx", ["user.id"], False),
            ("amplitude.x", ["amplitude."], True),
            ("amplitudex", ["amplitude."], False),
            ("abc", ["ab*"], True),
            ("x", [], False),
        ],
    )
    def test_rules(self, key: str, rules: list[str], expected: bool) -> None:
        """Exact, dot-prefix and star-prefix rules."""
        assert key_allowed(key, rules) is expected
