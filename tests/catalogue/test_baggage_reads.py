"""The application's reads of inbound baggage keys: found statically, judged by the real policy."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from otel_context import conf
from otel_context.baggage import filter_inbound
from otel_context.catalogue import DEFAULT_EXCLUDE, Verdict, baggage_reads, dropped_keys, verdict
from otel_context.catalogue.baggage_reads import allow_hint, reads_in, reads_section

DATA = Path(__file__).resolve().parents[1] / "data"
READERS = DATA / "baggage_readers"
ANALYTICS, TENANCY = "baggage_readers/analytics.py", "baggage_readers/tenancy.py"
#: Every read in the fixture app: (path, line, key); ``None`` for keys not known statically.
FIXTURE_READS = [
    (ANALYTICS, 9, "amplitude.device_id"),
    (ANALYTICS, 14, "amplitude.session_id"),
    (ANALYTICS, 15, "amplitude.session_id"),
    (ANALYTICS, 16, "amplitude.platform"),
    (ANALYTICS, 20, "mcp.client_name"),
    (TENANCY, 8, "tenant.region"),
    (TENANCY, 12, "user.id"),
    (TENANCY, 16, "correlation.id"),
    (TENANCY, 20, None),
    (TENANCY, 24, None),
]


def _config(**overrides: Any) -> conf.Config:
    return conf.build_config(overrides, setting={}, environ={})


def _keys(source: str) -> list[tuple[int, str | None]]:
    return [(read.line, read.key) for read in reads_in(ast.parse(source), "m.py")]


class TestReadsIn:
    def test_import_forms(self) -> None:
        """Module aliases, the full module path and the functions imported by any name."""
        source = (
            "import opentelemetry.baggage as ob\n"
            "from opentelemetry import baggage\n"
            "from opentelemetry.baggage import get_baggage as gb, get_all as everything\n"
            "import opentelemetry.trace\n"
            "ob.get_baggage('a')\n"
            "baggage.get_baggage('b', context=None)\n"
            "gb(name='c')\n"
            "everything()['d']\n"
            "opentelemetry.baggage.get_all().get('e', '')\n"
        )
        assert _keys(source) == [(5, "a"), (6, "b"), (7, "c"), (8, "d"), (9, "e")]

    def test_get_all_lookups_through_names(self) -> None:
        """Names assigned from ``get_all()``: subscripts, ``.get()``, ``in``; other uses dynamic."""
        source = (
            "from opentelemetry import baggage\n"
            "entries = baggage.get_all()\n"
            "kept: dict = baggage.get_all()\n"
            "x = entries['a'] if 'b' in entries else kept.get('c')\n"
            "y = 'd' not in entries\n"
            "z = entries.get(key)\n"
            "send(kept)\n"
            "self.cache = baggage.get_all()\n"
        )
        assert _keys(source) == [
            (4, "a"),
            (4, "b"),
            (4, "c"),
            (5, "d"),
            (6, None),
            (7, None),
            (8, None),
        ]

    def test_what_is_not_a_baggage_read(self) -> None:
        """Other objects' ``get_baggage``, set_baggage, and files without the import: nothing."""
        assert _keys("store.get_baggage('x')\nget_baggage('y')\n") == []
        source = (
            "from opentelemetry import baggage\n"
            "from opentelemetry import trace as baggage_tracer\n"
            "baggage.set_baggage('a', '1')\n"
            "baggage.remove_baggage('b')\n"
            "baggage_tracer.get_baggage('c')\n"
            "other.get_all()['d']\n"
        )
        assert _keys(source) == []

    def test_dynamic_keys_are_reads_without_a_key(self) -> None:
        """A non-literal key, or no key at all, is a read whose key is not known statically."""
        source = "from opentelemetry.baggage import get_baggage\nget_baggage(name)\nget_baggage()\n"
        assert _keys(source) == [(2, None), (3, None)]


class TestVerdict:
    @pytest.mark.parametrize(
        ("key", "allow", "expected"),
        [
            ("amplitude.device_id", [], Verdict.DROPPED),
            ("amplitude.device_id", ["amplitude.*"], Verdict.KEPT),
            ("amplitude.device_id", ["amplitude."], Verdict.KEPT),
            ("amplitude.device_id", ["amplitude"], Verdict.DROPPED),
            ("mcp.client_name", ["mcp.client_name"], Verdict.KEPT),
            ("user.id", ["user.*"], Verdict.SERVER_OWNED),
            ("organisation.id", [], Verdict.SERVER_OWNED),
            ("correlation.id", [], Verdict.OWN),
        ],
    )
    def test_agrees_with_the_inbound_policy(
        self, key: str, allow: list[str], expected: Verdict
    ) -> None:
        """Each verdict is what filtering a client's ``baggage`` header does to the key."""
        config = _config(inbound_baggage_allow=allow)
        assert verdict(key, config) is expected
        kept = filter_inbound({key: "v"}, config, trusted_peer=False).kept
        assert (key in kept) is (expected is Verdict.KEPT)

    def test_app_derived_keys_are_server_owned(self) -> None:
        """A key named in RESOLVERS is server-owned even when allowlisted."""
        resolvers = {"tenant.id": "tests.testapp.identifiers.tenant_from_header"}
        assert verdict("tenant.id", _config(inbound_baggage_allow=["tenant.*"])) is Verdict.KEPT
        config = _config(resolvers=resolvers, inbound_baggage_allow=["tenant.*"])
        assert verdict("tenant.id", config) is Verdict.SERVER_OWNED


class TestFixtureApp:
    def test_finds_every_read(self) -> None:
        """The fixture app's reads, in file and line order, dynamic ones without a key."""
        reads = baggage_reads(READERS, DEFAULT_EXCLUDE, max_files=100)
        assert reads is not None
        shown = [(f"baggage_readers/{read.path}", read.line, read.key) for read in reads]
        assert shown == FIXTURE_READS

    def test_dropped_keys_by_the_default_policy(self) -> None:
        """Zero configuration drops the app's own keys; server-owned and own keys are not listed."""
        reads = baggage_reads(READERS, DEFAULT_EXCLUDE, max_files=100) or []
        dropped = dropped_keys(reads, _config())
        assert list(dropped) == [
            "amplitude.device_id",
            "amplitude.platform",
            "amplitude.session_id",
            "mcp.client_name",
            "tenant.region",
        ]
        assert [read.line for read in dropped["amplitude.session_id"]] == [14, 15]

    def test_allowlisted_keys_are_not_dropped(self) -> None:
        """With the Security page's allowlist only ``tenant.region`` is left."""
        reads = baggage_reads(READERS, DEFAULT_EXCLUDE, max_files=100) or []
        config = _config(inbound_baggage_allow=["amplitude.*", "mcp.client_name"])
        assert list(dropped_keys(reads, config)) == ["tenant.region"]

    def test_file_cap_and_unreadable_files(self, tmp_path: Path) -> None:
        """Over the cap: ``None``; unparsable files are skipped; files without baggage unparsed."""
        (tmp_path / "broken.py").write_text("import opentelemetry.baggage\ndef (:\n")
        (tmp_path / "quiet.py").write_text("def (: # never parsed: no mention of the b-word\n")
        (tmp_path / "reads.py").write_text(
            "from opentelemetry import baggage\nbaggage.get_baggage('k')\n"
        )
        assert baggage_reads(tmp_path, DEFAULT_EXCLUDE, max_files=2) is None
        reads = baggage_reads(tmp_path, DEFAULT_EXCLUDE, max_files=3)
        assert [(read.path, read.key) for read in reads or []] == [("reads.py", "k")]


class TestReport:
    def test_section_lists_verdicts_and_the_setting_to_add(self) -> None:
        """Each key once with its places and verdict; the setting line keeps what is allowed."""
        reads = baggage_reads(READERS, DEFAULT_EXCLUDE, max_files=100) or []
        text = "\n".join(reads_section(reads, _config(inbound_baggage_allow=["mcp.client_name"])))
        assert (
            "| `amplitude.session_id` | `analytics.py:14`, `analytics.py:15` |"
            " **dropped**: not in `INBOUND_BAGGAGE_ALLOW` |"
        ) in text
        assert "| `mcp.client_name` | `analytics.py:20` | kept: matches" in text
        assert "| `user.id` | `tenancy.py:12` | server-owned:" in text
        assert (
            '"INBOUND_BAGGAGE_ALLOW": ["mcp.client_name", "amplitude.device_id",'
            ' "amplitude.platform", "amplitude.session_id", "tenant.region"]}'
        ) in text
        assert "not known statically: `tenancy.py:20`, `tenancy.py:24`." in text

    def test_nothing_read(self) -> None:
        """No reads: the section says so and offers no setting."""
        text = "\n".join(reads_section([], _config()))
        assert "No reads with a literal key found." in text
        assert '"INBOUND_BAGGAGE_ALLOW":' not in text

    def test_allow_hint_is_valid_python(self) -> None:
        """The hint runs in a settings module with or without OTEL_CONTEXT, keeping the rest."""
        hint = allow_hint(["a.b"], _config(inbound_baggage_allow=["c.*"]))
        assert isinstance(ast.parse(hint).body[0], ast.Assign)
        empty: dict[str, object] = {}
        exec(hint, empty)  # noqa: S102 - the hint is ours; it must run as printed
        assert empty["OTEL_CONTEXT"] == {"INBOUND_BAGGAGE_ALLOW": ["c.*", "a.b"]}
        existing: dict[str, object] = {"OTEL_CONTEXT": {"USER_ID_FIELD": "uuid"}}
        exec(hint, existing)  # noqa: S102
        assert existing["OTEL_CONTEXT"] == {
            "USER_ID_FIELD": "uuid",
            "INBOUND_BAGGAGE_ALLOW": ["c.*", "a.b"],
        }
