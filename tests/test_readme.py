"""The settings table (docs/settings.md) is the configuration in otel_context/options.py."""

from __future__ import annotations

import re
from pathlib import Path

from otel_context.conf import OPTIONS

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "docs" / "settings.md"
ROW = re.compile(
    r"^\| `(?P<name>[A-Z_]+)` \| `(?P<env>[A-Z_]+)` \| (?P<default>.*?) \| (?P<doc>.*) \|$"
)


def _table_rows() -> dict[str, dict[str, str]]:
    text = SETTINGS.read_text(encoding="utf-8")
    table = text.split("<!-- settings-table", 1)[1].split("\n\n", 1)[0]
    return {m["name"]: m.groupdict() for line in table.splitlines() if (m := ROW.match(line))}


class TestSettingsTable:
    def test_every_option_documented_and_nothing_else(self) -> None:
        """Each option has exactly one row, and every row is an option."""
        assert set(_table_rows()) == {option.name for option in OPTIONS}

    def test_env_var_and_meaning_match(self) -> None:
        """Each row's environment variable and meaning are the code's."""
        rows = _table_rows()
        for option in OPTIONS:
            assert rows[option.name]["env"] == option.env_var
            assert rows[option.name]["doc"] == option.doc

    def test_scalar_defaults_match(self) -> None:
        """Booleans, numbers and strings show the code's default."""
        rows = _table_rows()
        for option in OPTIONS:
            default = option.default
            if isinstance(default, bool):
                assert rows[option.name]["default"] == f"`{str(default).lower()}`"
            elif isinstance(default, int | str):
                assert rows[option.name]["default"] == f"`{default}`"
            elif isinstance(default, tuple) and default:
                assert rows[option.name]["default"] == ", ".join(f"`{d}`" for d in default)
