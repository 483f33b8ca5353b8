"""``manage.py otel_context_catalogue``: output file or stdout, --events roots and --exclude."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from otel_context import conf
from otel_context.catalogue import render

DATA = Path(__file__).resolve().parents[1] / "data"
EMITTERS = DATA / "emitters"


class TestCommand:
    def test_output_file(self, tmp_path: Path) -> None:
        """``--output`` writes the rendered catalogue to the file and says so on stdout."""
        target = tmp_path / "catalogue.md"
        out = io.StringIO()
        call_command("otel_context_catalogue", "--output", str(target), stdout=out)
        assert target.read_text(encoding="utf-8") == render(conf.get_config())
        assert out.getvalue() == f"Wrote the catalogue to {target}\n"

    def test_stdout_with_events_and_exclude(self) -> None:
        """Without ``--output`` the Markdown goes to stdout; ``--exclude`` adds patterns."""
        out = io.StringIO()
        args = ["--events", str(EMITTERS), "--exclude", "worker.py"]
        call_command("otel_context_catalogue", *args, stdout=out)
        text = out.getvalue()
        assert text.startswith("# Common attributes\n")
        assert "`charge.started`" in text
        assert "worker.py" not in text

    def test_default_root_is_base_dir_else_cwd(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
    ) -> None:
        """``--events`` alone scans settings.BASE_DIR, or the current directory without it."""
        (tmp_path / "here.py").write_text("log.info('in.cwd')\n")
        monkeypatch.chdir(tmp_path)
        out = io.StringIO()
        call_command("otel_context_catalogue", "--events", stdout=out)
        assert "`in.cwd`" in out.getvalue()
        settings.BASE_DIR = EMITTERS
        out = io.StringIO()
        call_command("otel_context_catalogue", "--events", stdout=out)
        assert "`charge.started`" in out.getvalue()
        assert "`in.cwd`" not in out.getvalue()

    def test_missing_path(self, tmp_path: Path) -> None:
        """A path that does not exist is a CommandError, not a traceback."""
        with pytest.raises(CommandError, match="no such file or directory"):
            call_command("otel_context_catalogue", "--events", str(tmp_path / "nope"))

    def test_events_report_dropped_baggage_reads_with_the_setting(self, settings: Any) -> None:
        """``--events`` lists the baggage keys the policy drops and the setting that keeps them."""
        settings.OTEL_CONTEXT = {**settings.OTEL_CONTEXT, "INBOUND_BAGGAGE_ALLOW": ["amplitude.*"]}
        out = io.StringIO()
        call_command(
            "otel_context_catalogue", "--events", str(DATA / "baggage_readers"), stdout=out
        )
        text = out.getvalue()
        assert "| `amplitude.device_id` |" in text
        assert "| `mcp.client_name` |" in text
        assert (
            '"INBOUND_BAGGAGE_ALLOW": ["amplitude.*", "mcp.client_name", "tenant.region"]}'
        ) in text
