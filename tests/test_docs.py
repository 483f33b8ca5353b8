"""The code blocks of README.md and docs/ are checked, not just read (issue 21 points 3 and 9).

- ``python`` blocks compile. A fragment that cannot (a signature alone, an elided body) says so
  with ``<!-- fragment -->`` on the line above its fence, and is skipped.
- ``json`` blocks parse, as a whole or line by line (JSON lines).
- ``sh`` blocks are valid shell (``bash -n``) whose commands are programs a reader has or the
  README installs, ``make`` targets that exist, and no ``pip install`` from an index the package
  is not published on.
- Relative links point at files that exist.

The Quickstart itself runs in ``tests/integration/test_readme_quickstart.py``.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests._markdown import README, ROOT, Block, blocks, markdown_files, marked_block

ALL_BLOCKS = [block for path in markdown_files() for block in blocks(path)]
#: Programs a shell block may run: the README's own, Python's and the servers it documents.
PROGRAMS = frozenset(
    {
        *("make", "pip", "python", "python3", "django-admin", "export", "cd", "git"),
        *("gunicorn", "uvicorn", "uwsgi", "opentelemetry-instrument", "curl", "docker"),
    }
)
_TARGET = re.compile(r"^(?P<target>[a-z][\w/%-]*):", re.MULTILINE)
_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def _ids(selected: list[Block]) -> list[str]:
    return [str(block) for block in selected]


def _of(language: str) -> list[Block]:
    return [block for block in ALL_BLOCKS if block.language == language]


def _commands(code: str) -> list[list[str]]:
    """Each command of a shell block as words: comments, ``X=y`` prefixes and pipes split off."""
    commands = []
    for line in code.splitlines():
        words = shlex.split(line, comments=True)
        for command in " ".join(shlex.quote(w) if w != "|" else w for w in words).split(" | "):
            parts = shlex.split(command)
            while parts and _ASSIGNMENT.match(parts[0]):
                parts.pop(0)
            if parts:
                commands.append(parts)
    return commands


class TestPythonBlocks:
    @pytest.mark.parametrize("block", _of("python"), ids=_ids(_of("python")))
    def test_compiles(self, block: Block) -> None:
        """Every python block is valid Python, unless marked a fragment."""
        if block.marker == "fragment":
            pytest.skip("marked <!-- fragment -->")
        compile(block.code, str(block), "exec")

    def test_there_are_blocks_to_check(self) -> None:
        """The README's Quickstart blocks are among those checked (the finder finds them)."""
        readme = [block for block in _of("python") if block.path == README]
        assert {"quickstart-settings", "quickstart-view"} <= {block.marker for block in readme}


class TestJsonBlocks:
    @pytest.mark.parametrize("block", _of("json"), ids=_ids(_of("json")))
    def test_parses(self, block: Block) -> None:
        """A json block is one JSON document, or JSON lines each of which parses."""
        try:
            json.loads(block.code)
        except json.JSONDecodeError:
            for line in filter(str.strip, block.code.splitlines()):
                assert isinstance(json.loads(line), dict), line


class TestShellBlocks:
    @pytest.mark.parametrize("block", _of("sh"), ids=_ids(_of("sh")))
    def test_is_valid_shell(self, block: Block) -> None:
        """``bash -n`` accepts the block."""
        result = subprocess.run(
            ["bash", "-n"], input=block.code, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr

    @pytest.mark.parametrize("block", _of("sh"), ids=_ids(_of("sh")))
    def test_runs_known_programs_and_make_targets(self, block: Block) -> None:
        """Each command is a known program; each ``make`` target is one of the Makefile's."""
        targets = set(_TARGET.findall((ROOT / "Makefile").read_text(encoding="utf-8")))
        for command in _commands(block.code):
            assert command[0] in PROGRAMS, (str(block), command)
            if command[0] == "make":
                assert set(command[1:]) <= targets, (str(block), command)

    @pytest.mark.parametrize("block", _of("sh"), ids=_ids(_of("sh")))
    def test_installs_only_what_exists_today(self, block: Block) -> None:
        """No block installs otel-context from an index: it is not published yet (issue 21)."""
        for command in _commands(block.code):
            if command[:2] == ["pip", "install"]:
                named = [w for w in command[2:] if re.match(r"otel[-_]context\b", w)]
                assert not named, (str(block), command)

    def test_the_shell_parser_sees_commands(self) -> None:
        """``_commands`` drops comments and variable prefixes, and splits pipes."""
        code = "X=1 make demo  # a comment\ncurl -s http://h | python3 -m json.tool\n"
        assert _commands(code) == [
            ["make", "demo"],
            ["curl", "-s", "http://h"],
            ["python3", "-m", "json.tool"],
        ]


class TestLinks:
    @pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
    def test_relative_links_resolve(self, path: Path) -> None:
        """Every relative link names a file that exists (anchors are Sphinx's to check)."""
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        for match in _LINK.finditer(text):
            target = match["target"].split("#", 1)[0]
            if target and not re.match(r"^[a-z]+:", target):
                assert (path.parent / target).exists(), (path.name, match["target"])


class TestReadmeFrontDoor:
    def test_the_two_commands_come_first(self) -> None:
        """``make demo`` and ``make test`` are the first commands, within the first 40 lines."""
        head = README.read_text(encoding="utf-8").splitlines()[:40]
        commands = re.findall(r"^make (\w+)", "\n".join(head), re.MULTILINE)
        assert commands[:2] == ["demo", "test"]

    def test_every_docs_page_is_linked_from_the_readme_or_the_index(self) -> None:
        """No page of docs/ is unreachable from the front door (Sphinx checks the toctree)."""
        readme = README.read_text(encoding="utf-8")
        index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
        for page in sorted((ROOT / "docs").glob("*.md")):
            if page.name != "index.md":
                assert f"docs/{page.name}" in readme or f"\n{page.stem}\n" in index, page.name


#: Runs the README's settings block with stdout recording each write() call, then logs a
#: structlog event and a stdlib record; prints the calls as JSON on the real stdout.
_WRITES = """
import json, logging.config, sys
import structlog

class Recorder:
    def __init__(self):
        self.calls = []
    def write(self, text):
        self.calls.append(text)
        return len(text)
    def flush(self):
        pass

real, sys.stdout = sys.stdout, Recorder()
INSTALLED_APPS = ["django.contrib.auth"]
exec(compile(sys.argv[1], "README.md quickstart-settings", "exec"))
logging.config.dictConfig(LOGGING)
structlog.get_logger().info("flags.evaluated", count=3)
logging.getLogger("mysite.views").info("flags served")
real.write(json.dumps(sys.stdout.calls))
"""


class TestQuickstartLogging:
    def test_each_line_is_written_in_one_call(self) -> None:
        """structlog's and stdlib's lines each reach stdout in one ``write()``, never split.

        structlog's default ``PrintLogger`` writes the message and the newline in two calls;
        with several workers (or threads, next to stdlib's handler) on one stdout, another
        line lands between them: glued lines (issue 21). The Quickstart must not do that.
        """
        settings = marked_block(README, "quickstart-settings").code
        result = subprocess.run(
            [sys.executable, "-c", _WRITES, settings],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        calls = [call for call in json.loads(result.stdout) if call]
        assert len(calls) == 2, calls
        for call in calls:
            assert call.endswith("\n"), calls
            assert call.count("\n") == 1, calls
            assert isinstance(json.loads(call), dict), call
        assert [json.loads(call)["event"] for call in calls] == ["flags.evaluated", "flags served"]
