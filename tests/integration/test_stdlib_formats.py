"""Stdlib log formats never fail, under real gunicorn (issue 22, point 2).

``tests/formats_site.py`` logs with stdlib ``logging`` only, configured by
``tests/formats_settings.py`` with a RESOLVERS key (``tenant.id``) and a URL_KWARGS target
(``shard.id``). Two handlers get every record: the README's set-up (``OTelContextFilter`` +
``OTelContextFormatter``, whose format also names ``order.id``, bound with ``bind()`` in some
requests only) and ``OTelContextFilter`` alone with a plain ``logging.Formatter`` naming every
configured field. Records come from inside requests, from a plain thread outside any request,
and from Django's own ``django.request`` and ``django.security.DisallowedHost`` loggers.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from tests._servers import ServiceFiles, running_gunicorn
from tests.formats_settings import BIND_ONLY, FIELDS

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.integration

TIMEOUT = 30
SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.formats_settings"}
LOGGING_ERROR = "--- Logging error ---"
#: Requests of each kind sent (concurrently, 2 workers x 4 threads).
ROUNDS = 12
Line = dict[str, str]


def _parse(path: Path) -> list[Line]:
    """``LINE <logger>|<level>|<field>=<value>|...|msg=<message>`` lines (tracebacks skipped)."""
    lines = []
    for text in path.read_text().splitlines():
        if text.startswith("LINE "):
            logger, level, *pairs = text.removeprefix("LINE ").split("|")
            line = dict(pair.split("=", 1) for pair in pairs)
            lines.append({"logger": logger, "level": level, **line})
    return lines


def _kinds(base: str, round_: int) -> list[tuple[str, dict[str, str], int]]:
    """One round: (url, headers, expected status), each with its own correlation id."""
    cid = f"r{round_}-{uuid.uuid4().hex[:8]}"
    return [
        (f"{base}/shards/s{round_}/orgs/{round_}/?order=o{round_}", _h(cid, "all", round_), 200),
        (f"{base}/shards/s{round_}/orgs/{round_}/", _h(cid, "url"), 200),
        (f"{base}/plain/", _h(cid, "none"), 200),
        (f"{base}/boom/", _h(cid, "boom"), 500),
        (f"{base}/refuses/", _h(cid, "refuses"), 401),
        (f"{base}/no-such-page/", _h(cid, "404"), 404),
        (f"{base}/stream/", _h(cid, "stream"), 200),
        (f"{base}/plain/", {"Host": "attacker.example"}, 400),
    ]


def _h(cid: str, kind: str, tenant_round: int | None = None) -> dict[str, str]:
    headers = {"Correlation-Id": f"{cid}-{kind}"}
    if tenant_round is not None:
        headers["X-Tenant"] = f"t{tenant_round}"
    return headers


def _send_all(base: str) -> dict[str, int]:
    calls = [call for round_ in range(ROUNDS) for call in _kinds(base, round_)]

    def send(call: tuple[str, dict[str, str], int]) -> tuple[str, int, int]:
        url, headers, expected = call
        response = requests.get(url, headers=headers, timeout=TIMEOUT)
        response.content  # noqa: B018 - stream the body to the end
        return headers.get("Correlation-Id", "host"), response.status_code, expected

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(send, calls))
    assert [(cid, status) for cid, status, _ in outcomes] == [
        (cid, expected) for cid, _, expected in outcomes
    ]
    return {cid: status for cid, status, _ in outcomes}


def _by(lines: list[Line], where: Callable[[Line], bool]) -> list[Line]:
    return [line for line in lines if where(line)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[ServiceFiles, str]:
    """One gunicorn run (2 workers x 4 threads) of every kind of request; its files, stderr."""
    files = ServiceFiles.in_dir(tmp_path_factory.mktemp("formats"))
    with running_gunicorn(files, workers=2, threads=4, env=SETTINGS) as service:
        _send_all(service.base_url)
    assert service.process.returncode == 0, service.stderr()
    return files, service.stderr()


def _files(run: tuple[ServiceFiles, str]) -> dict[str, list[Line]]:
    files, _ = run
    filter_only = Path(f"{files.log_file}.filter-only")
    return {"readme": _parse(files.log_file), "filter_only": _parse(filter_only)}


class TestNoLoggingErrors:
    def test_no_logging_error_and_no_line_lost(self, run: tuple[ServiceFiles, str]) -> None:
        """Zero '--- Logging error ---'; both handlers wrote every record, one line each."""
        _, stderr = run
        assert LOGGING_ERROR not in stderr
        assert "KeyError" not in stderr
        readme, filter_only = _files(run).values()
        # Two worker processes append to each file: the same lines, maybe not in one order.
        key = ("logger", "correlation_id", "trace_id", "msg")
        assert sorted(tuple(line[k] for k in key) for line in readme) == sorted(
            tuple(line[k] for k in key) for line in filter_only
        )
        messages = [line["msg"] for line in readme]
        assert messages.count("app.work") == 3 * ROUNDS  # in the request: all, url, none
        assert messages.count("app.thread") == 3 * ROUNDS  # from a thread outside it
        assert messages.count("app.chunk") == 2 * ROUNDS
        assert messages.count("Internal Server Error: /boom/") == ROUNDS
        assert messages.count("Unauthorized: /refuses/") == ROUNDS
        assert messages.count("Not Found: /no-such-page/") == ROUNDS

    def test_every_field_on_every_line(self, run: tuple[ServiceFiles, str]) -> None:
        """Each line has every field of its format: configured ones, and bind()-only ones."""
        files = _files(run)
        for name, lines in files.items():
            expected = {*FIELDS, *BIND_ONLY} if name == "readme" else set(FIELDS)
            assert len(lines) >= 12 * ROUNDS, name  # every kind of request logged
            for line in lines:
                assert set(line) - {"logger", "level", "msg"} == expected, line
                assert all(line[field] for field in expected), line


class TestValuesAndDefaults:
    def test_bound_values_in_both_spellings(self, run: tuple[ServiceFiles, str]) -> None:
        """A request with every kind bound: values, each dotted and underscored."""
        readme = _files(run)["readme"]
        for round_ in range(ROUNDS):
            (line,) = _by(
                readme,
                lambda x, r=round_: (
                    x["correlation_id"].startswith(f"r{r}-")
                    and x["correlation_id"].endswith("-all")
                ),
            )
            assert line["msg"] == "app.work"
            for key, value in {
                "organisation": str(round_),
                "shard": f"s{round_}",
                "tenant": f"t{round_}",
                "order": f"o{round_}",
                "correlation": line["correlation_id"],
            }.items():
                assert line[f"{key}_id"] == line[f"{key}.id"] == value, line
            assert line["trace_id"] != "-"

    def test_defaults_where_not_bound(self, run: tuple[ServiceFiles, str]) -> None:
        """Without tenant or order (and outside requests: everything), the field is '-'."""
        readme = _files(run)["readme"]
        url_only = _by(readme, lambda x: x["correlation_id"].endswith("-url"))
        assert len(url_only) == ROUNDS
        for line in url_only:
            assert line["shard_id"] == line["shard.id"] != "-"
            for name in ("tenant_id", "tenant.id", "order_id", "order.id"):
                assert line[name] == "-", line
        outside = _by(readme, lambda x: x["msg"] == "app.thread")
        for line in outside:
            assert {line[name] for name in (*FIELDS, *BIND_ONLY)} == {"-"}, line

    def test_djangos_own_loggers(self, run: tuple[ServiceFiles, str]) -> None:
        """django.request lines carry their request's ids; DisallowedHost (rejected before any
        span or hook) carries only the correlation id it answers with, '-' for the rest."""
        readme = _files(run)["readme"]
        for message, kind in (
            ("Internal Server Error: /boom/", "-boom"),
            ("Unauthorized: /refuses/", "-refuses"),  # logged after the span ended
            ("Not Found: /no-such-page/", "-404"),
        ):
            lines = _by(readme, lambda x, m=message: x["msg"] == m)
            assert {line["logger"] for line in lines} == {"django.request"}
            for line in lines:
                assert line["correlation_id"].endswith(kind), line
                assert line["correlation.id"] == line["correlation_id"]
                assert line["trace_id"] != "-"
        security = _by(readme, lambda x: x["logger"] == "django.security.DisallowedHost")
        assert len(security) == ROUNDS
        for line in security:
            correlation = {"correlation_id", "correlation.id"}
            assert len(line["correlation_id"]) == 32, line  # generated: the request sent none
            assert line["correlation.id"] == line["correlation_id"], line
            rest = {*FIELDS, *BIND_ONLY} - correlation
            assert {line[name] for name in rest} == {"-"}, line
