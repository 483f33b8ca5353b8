"""The catalogue document: what each attribute is, where it comes from, whether it travels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from otel_context import conf
from otel_context.catalogue import document as catalogue
from tests.testapp import identifiers

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


def _config(**overrides: Any) -> conf.Config:
    return conf.build_config(overrides, setting={}, environ={})


def _row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))


class TestExampleCatalogue:
    def test_matches_the_checked_in_document(self, tmp_path: Path) -> None:
        """The example project's catalogue is exactly tests/data/catalogue_example.md.

        Run in a process of its own: importing example.settings configures structlog globally
        and its app's models need the example's INSTALLED_APPS.
        """
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("OTEL_CONTEXT_") and key != "DJANGO_SETTINGS_MODULE"
        }
        env |= {"EXAMPLE_LOG_FILE": str(tmp_path / "log"), "EXAMPLE_DB": str(tmp_path / "db")}
        command = [sys.executable, "-m", "django", "otel_context_catalogue"]
        result = subprocess.run(
            [*command, "--settings", "example.settings"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        expected = (DATA / "catalogue_example.md").read_text(encoding="utf-8")
        assert result.stdout == expected


class TestCollect:
    def test_zero_configuration(self) -> None:
        """Defaults: correlation id, user pk, and the default URL kwargs, sorted by name."""
        entries = {entry.name: entry for entry in catalogue.collect(_config())}
        assert list(entries) == sorted(entries)
        assert set(entries) == {
            "correlation.id",
            "environment.id",
            "organisation.id",
            "project.id",
            "user.id",
        }
        assert entries["organisation.id"].sources == [
            "URL kwarg `organisation_pk`",
            "URL kwarg `organisation_id`",
        ]
        assert entries["user.id"].when == catalogue.AFTER_AUTHENTICATION
        assert entries["correlation.id"].when == catalogue.REQUEST_START

    def test_no_user_field_no_user_id(self) -> None:
        """USER_ID_FIELD unset and no trusted upstream: user.id is never bound."""
        names = {entry.name for entry in catalogue.collect(_config(user_id_field=None))}
        assert "user.id" not in names

    def test_trusted_upstream_makes_server_owned_ids_available_at_start(self) -> None:
        """TRUST_UPSTREAM_IDENTIFIERS: every server-owned key may come from upstream baggage."""
        config = _config(
            trust_upstream_identifiers=True,
            trusted_networks=["10.0.0.0/8"],
            resolvers={"tenant.id": "tests.testapp.identifiers.tenant_from_header"},
        )
        entries = {entry.name: entry for entry in catalogue.collect(config)}
        upstream = "trusted upstream `baggage` (from `10.0.0.0/8`)"
        assert entries["tenant.id"].sources == [
            "resolver `tests.testapp.identifiers.tenant_from_header`",
            upstream,
        ]
        assert entries["user.id"].sources[-1] == upstream
        assert entries["user.id"].when == (
            f"{catalogue.REQUEST_START}, {catalogue.AFTER_AUTHENTICATION}"
        )
        assert entries["correlation.id"].sources[1] == upstream

    def test_correlation_id_options(self) -> None:
        """A trusted header is taken as sent; a custom generator is named by its path."""
        config = _config(
            trust_correlation_id=True,
            correlation_id_headers=["X-Trace"],
            correlation_id_generator="tests.testapp.identifiers.tenant_from_header",
        )
        (entry,) = [e for e in catalogue.collect(config) if e.name == "correlation.id"]
        assert entry.sources == [
            "request header `X-Trace` (as sent, from trusted peers)",
            "else generated (by `tests.testapp.identifiers.tenant_from_header`)",
        ]

    def test_bound_names_include_trace_fields(self) -> None:
        """The trace fields are bound too: call sites passing them are redundant."""
        names = catalogue.bound_names(_config(url_kwargs={}))
        assert names == {"correlation.id", "user.id", "trace_id", "span_id", "trace_sampled"}


class TestBaggage:
    @pytest.mark.parametrize(
        ("name", "overrides", "expected"),
        [
            ("user.id", {}, "yes"),
            (
                "correlation.id",
                {"propagate_identifiers": False},
                "no (`PROPAGATE_IDENTIFIERS` is off)",
            ),
            ("user.id", {"propagate_identifiers": False}, "no (`PROPAGATE_IDENTIFIERS` is off)"),
            ("user.id", {"outbound_baggage_keys": ["correlation."]}, "no (not in `OUTBOUND"),
            ("correlation.id", {"outbound_baggage_hosts": []}, "no (`OUTBOUND_BAGGAGE_HOSTS`"),
            ("user.id", {"outbound_baggage_hosts": [], "outbound_baggage_to_unknown": True}, "yes"),
        ],
    )
    def test_policy(self, name: str, overrides: dict[str, Any], expected: str) -> None:
        """The baggage column follows the outbound policy (the correlation id always goes)."""
        assert catalogue.baggage(name, _config(**overrides)).startswith(expected)


def _not_literal(key: str) -> dict[str, str]:
    return dict.fromkeys("a", key)


def _number_keys(key: str) -> dict[int, str]:
    return {1: key}


class _CallableLookup:
    def __call__(self, key: str) -> dict[str, str]:
        return {"a": key}


class TestReturnedKeys:
    def test_literal_returns(self) -> None:
        """Keys of every ``return {...}`` literal, dotted and sorted; ``return None`` is fine."""
        keys = catalogue.returned_keys(identifiers.environment_by_key)
        assert keys == ("environment.id", "project.id")

    @pytest.mark.parametrize(
        "function",
        [_not_literal, _number_keys, _CallableLookup(), len, lambda key: {"a": key}],
        ids=["variable", "number-keys", "callable-object", "builtin", "lambda"],
    )
    def test_unknown(self, function: Any) -> None:
        """Anything but literal dicts of string keys: not known statically."""
        assert catalogue.returned_keys(function) is None

    def test_dotted_path_of_a_callable_object(self) -> None:
        """A callable object is named by its class."""
        assert (
            catalogue.dotted_path(_CallableLookup())
            == "tests.catalogue.test_document._CallableLookup"
        )


class TestRender:
    def test_unknown_lookup_keys_are_said_so(self) -> None:
        """A lookup whose keys cannot be read adds no rows, only a line naming it."""
        text = catalogue.render(
            _config(url_kwargs={"key": {"lookup": "tests.catalogue.test_document._not_literal"}})
        )
        assert (
            "- `key`: attributes returned by `tests.catalogue.test_document._not_literal`;"
            " which ones is not known statically." in text
        )
        assert "`a`" not in text

    def test_policy_switches(self) -> None:
        """Span attributes off, identifiers not propagated, inbound allowlist: all stated."""
        text = catalogue.render(
            _config(
                span_attributes=False,
                propagate_identifiers=False,
                inbound_baggage_allow=["amplitude."],
                outbound_baggage_to_unknown=True,
            )
        )
        assert "attributes of the request span" not in text
        assert "`PROPAGATE_IDENTIFIERS` is off: no identifier goes" in text
        assert "`INBOUND_BAGGAGE_ALLOW` (`amplitude.`) travels on too" in text
        assert "baggage is sent (`OUTBOUND_BAGGAGE_TO_UNKNOWN`)" in text

    def test_cells_are_escaped(self) -> None:
        """A ``|`` in a value cannot break the table."""
        text = catalogue.render(_config(correlation_id_headers=["A|B"]))
        assert "request header `A\\|B`" in _row(text, "correlation.id")

    def test_deterministic(self) -> None:
        """The same configuration renders the same document."""
        assert catalogue.render(_config()) == catalogue.render(_config())
