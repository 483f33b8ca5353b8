"""System check W003: the application reads inbound baggage keys that the policy drops."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from django.core import checks as django_checks

from otel_context.catalogue import DEFAULT_EXCLUDE, BaggageRead, project
from otel_context.catalogue.baggage_reads import reads_in
from otel_context.django import checks

REPO = Path(__file__).resolve().parents[2]
READERS = REPO / "tests" / "data" / "baggage_readers"
DROPPED = ["amplitude.device_id", "amplitude.platform", "amplitude.session_id"]


def _readme_allowlist() -> object:
    """The ``OTEL_CONTEXT`` of the Security page's example for baggage the app reads."""
    text = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    block = text.split("**Baggage your application reads.**", 1)[1]
    code = block.split("```python\n", 1)[1].split("```", 1)[0]
    (assignment,) = ast.parse(code).body
    assert isinstance(assignment, ast.Assign)
    return ast.literal_eval(assignment.value)


def _w003() -> list[django_checks.CheckMessage]:
    return [m for m in django_checks.run_checks() if m.id == "otel_context.W003"]


class TestCheckBaggageReads:
    def test_warns_once_per_dropped_key_at_start_up(self, settings: Any) -> None:
        """Every key the app reads and the policy drops: one warning, with places and setting."""
        settings.BASE_DIR = READERS
        messages = _w003()
        keys = [message.msg.split("'")[1] for message in messages]
        assert keys == [*DROPPED, "mcp.client_name", "tenant.region"]
        session = messages[2]
        assert "(analytics.py:14, analytics.py:15)" in session.msg
        assert session.hint == (
            "If clients may set it: "
            'OTEL_CONTEXT = {**globals().get("OTEL_CONTEXT", {}), '
            '"INBOUND_BAGGAGE_ALLOW": ["amplitude.session_id"]}'
        )
        assert isinstance(session, django_checks.Warning)

    def test_allowlisted_keys_are_quiet(self, settings: Any) -> None:
        """With the Security page's allowlist only the key it does not list is reported."""
        settings.BASE_DIR = READERS
        settings.OTEL_CONTEXT = _readme_allowlist()
        assert [message.msg.split("'")[1] for message in _w003()] == ["tenant.region"]

    @pytest.mark.parametrize("base_dir", [None, "", 42, "/nonexistent/otel-context-app"])
    def test_no_usable_base_dir_no_scan(self, settings: Any, base_dir: object) -> None:
        """Without a usable BASE_DIR the check scans nothing and never raises."""
        settings.BASE_DIR = base_dir
        assert checks.check_baggage_reads() == []

    def test_bad_configuration_is_left_to_e002(self, settings: Any) -> None:
        """An unusable OTEL_CONTEXT is E002's to report, not a crash of this check."""
        settings.BASE_DIR = READERS
        settings.OTEL_CONTEXT = {"INBOUND_BAGGAGE_MAX_ENTRIES": "many"}
        assert checks.check_baggage_reads() == []

    def test_too_many_files_skips_the_scan(
        self, settings: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Over MAX_CHECK_FILES files the check stays quiet (the command still reports)."""
        settings.BASE_DIR = READERS
        monkeypatch.setattr(checks, "MAX_CHECK_FILES", 2)
        assert checks.check_baggage_reads() == []

    def test_on_this_project_parses_only_files_about_baggage(
        self, settings: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """On the whole repository only files mentioning baggage are parsed (the cheap path)."""
        parsed: list[str] = []

        def counting(tree: ast.AST, path: str) -> list[BaggageRead]:
            parsed.append(path)
            return reads_in(tree, path)

        monkeypatch.setattr(project, "reads_in", counting)
        settings.BASE_DIR = REPO
        messages = checks.check_baggage_reads()
        assert {message.msg.split("'")[1] for message in messages} >= set(DROPPED)
        every = list(project.python_files(REPO, DEFAULT_EXCLUDE))
        about_baggage = [path for path in every if b"baggage" in path.read_bytes()]
        assert len(parsed) == len(about_baggage) < len(every)
