"""The load benchmarks' marked sections of RESULTS.md (benchmarks/_load_report.py)."""

from __future__ import annotations

from pathlib import Path

from benchmarks._load_report import (
    CONSTANT,
    ISSUE24,
    ISSUE25,
    KEPT,
    LOAD,
    extract,
    keep_section,
    splice,
)

D = f"{LOAD[0]}\n## D\nold D\n{LOAD[1]}"
D_PRIME = f"{CONSTANT[0]}\n## D-prime\nold D-prime\n{CONSTANT[1]}"


class TestSections:
    def test_each_command_replaces_only_its_section(self) -> None:
        """Writing D-prime leaves D alone, and the other way round."""
        text = f"# Results\n\n{D}\n\n{D_PRIME}\n"
        new = splice(text, f"{CONSTANT[0]}\nnew D-prime\n{CONSTANT[1]}", CONSTANT)
        assert extract(new, LOAD) == D
        assert extract(new, CONSTANT) == f"{CONSTANT[0]}\nnew D-prime\n{CONSTANT[1]}"
        assert splice(new, f"{LOAD[0]}\nnew D\n{LOAD[1]}").count("new") == 2

    def test_missing_section_is_appended(self) -> None:
        """A file without D-prime gets it at the end."""
        assert splice("# Results\n", D_PRIME, CONSTANT) == f"# Results\n\n{D_PRIME}\n"

    def test_run_keeps_both_load_sections(self, tmp_path: Path) -> None:
        """benchmarks.run's rewrite carries D and D-prime over from the file it replaces."""
        path = tmp_path / "RESULTS.md"
        path.write_text(f"# old A\n\n{D}\n\n{D_PRIME}\n", encoding="utf-8")
        kept = keep_section("# new A\n", path)
        assert kept.startswith("# new A")
        assert extract(kept, LOAD) == D
        assert extract(kept, CONSTANT) == D_PRIME

    def test_run_keeps_the_issue24_figures(self, tmp_path: Path) -> None:
        """Figure F, written in by hand, survives benchmarks.run's rewrite too."""
        section = f"{ISSUE24[0]}\n## F\nby hand\n{ISSUE24[1]}"
        path = tmp_path / "RESULTS.md"
        path.write_text(f"# old A\n\n{D}\n\n{section}\n", encoding="utf-8")
        kept = keep_section("# new A\n", path)
        assert extract(kept, ISSUE24) == section
        assert extract(kept, LOAD) == D

    def test_run_keeps_the_issue25_figures_in_place(self, tmp_path: Path) -> None:
        """The hand-written issue-25 section survives the rewrite, still before figure D."""
        section = f"{ISSUE25[0]}\n## Issue 25\nby hand\n{ISSUE25[1]}"
        path = tmp_path / "RESULTS.md"
        path.write_text(f"# old A\n\n{section}\n\n{D}\n\n{D_PRIME}\n", encoding="utf-8")
        kept = keep_section("# new A\n", path)
        assert kept.startswith("# new A")
        assert extract(kept, ISSUE25) == section
        assert kept.index(ISSUE25[1]) < kept.index(LOAD[0]) < kept.index(CONSTANT[0])

    def test_run_loses_nothing_of_the_present_results(self) -> None:
        """Rewriting what benchmarks.run writes gives RESULTS.md back: the rest is marked."""
        path = Path(__file__).resolve().parents[1] / "benchmarks" / "RESULTS.md"
        text = path.read_text(encoding="utf-8")
        generated = text[: text.index(KEPT[0][0])]
        assert "## Issue 25" not in generated
        assert keep_section(generated, path) == text
