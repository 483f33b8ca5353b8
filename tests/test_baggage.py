"""Inbound baggage policy."""

from __future__ import annotations

from typing import Any

import pytest

from otel_context.baggage import filter_inbound, peer_is_trusted
from otel_context.conf import build_config


def _filter(entries: dict[str, object], *, trusted_peer: bool = True, **setting: Any) -> Any:
    return filter_inbound(entries, build_config({}, setting, {}), trusted_peer=trusted_peer)


class TestDefaults:
    def test_everything_dropped_with_zero_configuration(self) -> None:
        """Default: no inbound key is kept, server-owned ids least of all."""
        result = _filter({"user.id": "42", "organisation.id": "7", "amplitude.device_id": "d"})
        assert result.kept == {}
        assert result.identifiers == {}
        assert result.dropped == 3


class TestAllowlist:
    def test_exact_and_prefix_rules(self) -> None:
        """Exact names, 'prefix.' and 'prefix*' rules."""
        result = _filter(
            {
                "amplitude.device_id": "d",
                "amplitude.session_id": "s",
                "ab.test": "1",
                "abc": "2",
                "x": "3",
            },
            INBOUND_BAGGAGE_ALLOW=["amplitude.", "ab*"],
        )
        assert result.kept == {
            "amplitude.device_id": "d",
            "amplitude.session_id": "s",
            "ab.test": "1",
            "abc": "2",
        }
        assert result.dropped == 1

    def test_server_owned_keys_cannot_be_allowlisted_in(self) -> None:
        """Allowlisting 'user*' still does not let a client set user.id."""
        result = _filter({"user.id": "42"}, INBOUND_BAGGAGE_ALLOW=["user*"])
        assert result.kept == {}
        assert result.identifiers == {}

    def test_caps(self) -> None:
        """Count and value-length caps apply; each excess entry is counted."""
        entries = {f"k{i}": "v" for i in range(5)} | {"long": "x" * 20}
        result = _filter(
            entries,
            INBOUND_BAGGAGE_ALLOW=["k*", "long"],
            INBOUND_BAGGAGE_MAX_ENTRIES=3,
            INBOUND_BAGGAGE_MAX_VALUE_LENGTH=10,
        )
        assert len(result.kept) == 3
        assert result.dropped == 3


class TestTrustedUpstream:
    def test_trusted_peer_ids_accepted(self) -> None:
        """Behind a trusted hop, an upstream service's ids are accepted."""
        result = _filter(
            {"user.id": "42", "correlation.id": "c-1"}, TRUST_UPSTREAM_IDENTIFIERS=True
        )
        assert result.identifiers == {"user.id": "42", "correlation.id": "c-1"}

    def test_untrusted_peer_ids_dropped(self) -> None:
        """The same request from outside the trusted networks: dropped."""
        result = _filter({"user.id": "42"}, trusted_peer=False, TRUST_UPSTREAM_IDENTIFIERS=True)
        assert result.identifiers == {}
        assert result.dropped == 1

    def test_even_trusted_values_are_validated(self) -> None:
        """A trusted hop still cannot inject control characters or a junk correlation id."""
        result = _filter(
            {"user.id": "4\n2", "correlation.id": "not valid"}, TRUST_UPSTREAM_IDENTIFIERS=True
        )
        assert result.identifiers == {}
        assert result.dropped == 2


class TestPeerIsTrusted:
    @pytest.mark.parametrize(
        ("peer", "networks", "expected"),
        [
            ("10.1.2.3", ["10.0.0.0/8"], True),
            ("192.168.0.1", ["10.0.0.0/8"], False),
            ("::1", ["::1/128"], True),
            (None, ["10.0.0.0/8"], False),
            ("not-an-ip", ["10.0.0.0/8"], False),
            ("203.0.113.9", [], True),
        ],
    )
    def test_networks(self, peer: str | None, networks: list[str], expected: bool) -> None:
        """CIDR membership; no networks configured means every peer."""
        config = build_config({}, {"TRUSTED_NETWORKS": networks}, {})
        assert peer_is_trusted(peer, config.trusted_networks) is expected
