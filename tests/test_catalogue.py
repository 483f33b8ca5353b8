"""The common-attributes catalogue: rendering, the emit-site scan and the management command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from otel_context import catalogue, conf
from otel_context._emit_sites import DEFAULT_EXCLUDE, BindSite, EmitSite, scan, scan_source
from tests.testapp import identifiers

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
EMITTERS = DATA / "emitters"


def _config(**overrides: Any) -> conf.Config:
    return conf.build_config(overrides, setting={}, environ={})


def _row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))


def _sites(source: str) -> list[tuple[int, str, str | None, tuple[str, ...], bool]]:
    emits, _ = scan_source(source, "m.py")
    return [(s.line, s.method, s.event, s.kwargs, s.heuristic) for s in emits]


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
        assert catalogue.dotted_path(_CallableLookup()) == "tests.test_catalogue._CallableLookup"


class TestRender:
    def test_unknown_lookup_keys_are_said_so(self) -> None:
        """A lookup whose keys cannot be read adds no rows, only a line naming it."""
        text = catalogue.render(
            _config(url_kwargs={"key": {"lookup": "tests.test_catalogue._not_literal"}})
        )
        assert (
            "- `key`: attributes returned by `tests.test_catalogue._not_literal`;"
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


class TestScanSource:
    def test_bind_chains_and_receivers(self) -> None:
        """Bound kwargs join the call's; ``new()`` starts afresh; ``unbind()`` passes through."""
        source = (
            "import structlog as sl\n"
            "from structlog import stdlib\n"
            "base = sl.get_logger().bind(a=1)\n"
            "other = stdlib.get_logger()\n"
            "base.bind(b=2).info('e1', c=3, **extra)\n"
            "base.new(d=4).unbind('x').error('e2')\n"
            "other.log(20, 'e3', exc_info=True, stack_info=True)\n"
            "other.info(event='e4', f=5)\n"
            "sl.wrap_logger(None).ainfo(f'{x}')\n"
        )
        assert _sites(source) == [
            (5, "info", "e1", ("a", "b", "c"), False),
            (6, "error", "e2", ("d",), False),
            (7, "log", "e3", (), False),
            (8, "info", "e4", ("f",), False),
            (9, "ainfo", None, (), False),
        ]

    def test_what_is_not_a_structlog_logger(self) -> None:
        """stdlib loggers (even named ``logger``), unknown objects and odd calls are skipped."""
        source = (
            "import logging\n"
            "from logging import getLogger\n"
            "from myapp import get_logger\n"
            "logger = logging.getLogger(__name__)\n"
            "self.logger = getLogger()\n"
            "logger.info('stdlib')\n"
            "self.logger.info('stdlib')\n"
            "messages.info(request, 'flash')\n"
            "logging.getLogger().info('stdlib')\n"
            "get_logger().info('unknown wrapper')\n"
            "handlers[0].info('x')\n"
            "make()().info('x')\n"
            "structlog.get_logger().info('no import of structlog')\n"
            "thing.bind(a=1).info('bound, but not a logger')\n"
            "first, second = log, log\n"
            "later: Logger\n"
            "first.info('a tuple assignment is not followed')\n"
        )
        assert _sites(source) == []

    def test_heuristic_names(self) -> None:
        """``log``/``logger``/``_log``/``_logger`` of unknown origin count, marked as a guess."""
        source = (
            "from myapp import get_logger\n"
            "log = get_logger()\n"
            "audit = log.bind(a=1)\n"
            "log.info('e1')\n"
            "self._logger.warning('e2')\n"
            "audit.info('e3')\n"
        )
        assert _sites(source) == [
            (4, "info", "e1", (), True),
            (5, "warning", "e2", (), True),
            (6, "info", "e3", ("a",), True),
        ]

    def test_otel_context_bind_calls(self) -> None:
        """``otel_context.bind()`` under any import spelling; other ``bind`` calls are not it."""
        source = (
            "import otel_context as oc\n"
            "from otel_context import bind as bind_ids\n"
            "oc.bind(a__b=1)\n"
            "bind_ids(c=2, **more)\n"
            "other.bind(d=3)\n"
            "bind(e=4)\n"
        )
        _, binds = scan_source(source, "m.py")
        assert binds == [BindSite("m.py", 3, ("a__b",)), BindSite("m.py", 4, ("c",))]

    def test_attributes_are_dotted_without_repeats(self) -> None:
        """``EmitSite.attributes`` shows ``__`` as ``.`` and each name once."""
        site = EmitSite("m.py", 1, "info", "e", ("a__b", "c", "a__b"), heuristic=False)
        assert site.attributes == ("a.b", "c")


class TestScan:
    def test_fixture_package(self) -> None:
        """Module-level loggers, ``.bind()`` chains, ``self.log``, dynamic events, a guess."""
        found = scan([EMITTERS], DEFAULT_EXCLUDE, base=DATA)
        assert (found.roots, found.files, found.unreadable) == (("emitters",), 3, [])
        sites = [(s.path, s.line, s.method, s.event, s.kwargs, s.heuristic) for s in found.emits]
        billing, worker = "emitters/billing.py", "emitters/worker.py"
        assert sites == [
            (billing, 17, "info", "charge.started", ("organisation__id", "amount"), False),
            (billing, 18, "warning", "charge.retried", ("invoice__number", "attempt"), False),
            (billing, 19, "info", "charge.audited", ("component",), False),
            (billing, 20, "error", "charge.failed", ("user__id",), False),
            (worker, 17, "debug", "worker.ran", ("worker__name", "job__id"), False),
            (worker, 18, "info", None, ("worker__name", "correlation_id"), False),
            (worker, 23, "info", "job.handled", ("project__id",), True),
        ]
        assert found.binds == [BindSite(worker, 19, ("job__id",))]

    def test_redundant_attributes_are_flagged(self) -> None:
        """Exact dotted matches with bound attributes are flagged; ``correlation_id`` is not."""
        text = catalogue.render(conf.get_config(), scan([EMITTERS], DEFAULT_EXCLUDE, DATA))
        redundant = text.split("## Redundant call-site attributes", 1)[1]
        flagged = [line for line in redundant.splitlines() if line.startswith("- ")]
        assert flagged == [
            "- `emitters/billing.py:20` `charge.failed`: `user__id` (`user.id`)",
            "- `emitters/billing.py:17` `charge.started`: `organisation__id` (`organisation.id`)",
            "- `emitters/worker.py:23` † `job.handled`: `project__id` (`project.id`)",
        ]
        assert "| `<dynamic>` | info | `emitters/worker.py:18` |" in text
        assert "| `job.id` | `emitters/worker.py:19` | yes |" in text

    def test_exclude_unreadable_and_nothing_found(self, tmp_path: Path) -> None:
        """Excluded names are skipped, unparsable files listed, an empty result said so."""
        (tmp_path / "skipped").mkdir()
        (tmp_path / "skipped" / "a.py").write_text("log.info('x')\n")
        (tmp_path / "broken.py").write_text("def (:\n")
        (tmp_path / "quiet.py").write_text("x = 1\n")
        found = scan([tmp_path], (*DEFAULT_EXCLUDE, "skipped"), base=tmp_path)
        assert (found.files, found.emits, found.unreadable) == (1, [], ["broken.py"])
        text = catalogue.render(_config(), found)
        assert "No emit sites found.\n\nCould not be parsed: `broken.py`." in text
        assert "None: no emit site passes an attribute the context already binds." in text
        assert "## Bound with `otel_context.bind()`" not in text

    def test_file_root_outside_base_and_missing_root(self, tmp_path: Path) -> None:
        """A file can be a root; paths outside *base* stay absolute; a missing root raises."""
        path = tmp_path / "one.py"
        path.write_text("log.info('x')\n")
        found = scan([path], DEFAULT_EXCLUDE, base=EMITTERS)
        assert [site.path for site in found.emits] == [path.resolve().as_posix()]
        with pytest.raises(FileNotFoundError, match="nope"):
            scan([tmp_path / "nope"], DEFAULT_EXCLUDE, base=tmp_path)


class TestCommand:
    def test_output_file(self, tmp_path: Path) -> None:
        """``--output`` writes the rendered catalogue to the file and says so on stdout."""
        target = tmp_path / "catalogue.md"
        out = io.StringIO()
        call_command("otel_context_catalogue", "--output", str(target), stdout=out)
        assert target.read_text(encoding="utf-8") == catalogue.render(conf.get_config())
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
