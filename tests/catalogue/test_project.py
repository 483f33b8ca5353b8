"""Walking a project's source tree: each file parsed once for emit sites and baggage reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from otel_context import conf
from otel_context.catalogue import DEFAULT_EXCLUDE, BindSite, render, scan

DATA = Path(__file__).resolve().parents[1] / "data"
EMITTERS = DATA / "emitters"


def _config(**overrides: Any) -> conf.Config:
    return conf.build_config(overrides, setting={}, environ={})


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
        text = render(conf.get_config(), scan([EMITTERS], DEFAULT_EXCLUDE, DATA))
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
        text = render(_config(), found)
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

    def test_one_walk_finds_emit_sites_and_baggage_reads(self) -> None:
        """Both fixture apps in one scan: emit sites from one, baggage reads from the other."""
        found = scan([EMITTERS, DATA / "baggage_readers"], DEFAULT_EXCLUDE, base=DATA)
        assert found.files == 7
        assert {site.path for site in found.emits} == {
            "emitters/billing.py",
            "emitters/worker.py",
        }
        assert {read.path for read in found.reads} == {
            "baggage_readers/analytics.py",
            "baggage_readers/tenancy.py",
        }
        assert len(found.reads) == 10
        text = render(_config(), found)
        assert "## Inbound baggage the application reads" in text
        assert "| `tenant.region` | `baggage_readers/tenancy.py:8` | **dropped**" in text
