"""Log sampling and the flight recorder on the example service under gunicorn (issue 24).

A mix of requests, sampled and sampled out by their ``traceparent``: fine, failing (500) and
slow. Only the sampled requests' chatter is written as it comes; a sampled-out request's is
written, marked ``log.held``, in order and with its own timestamps, only if it failed or was
slow; nothing of one request turns up on another's lines.
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import requests

from example.app import demo_data
from tests._servers import read_json_lines, running_gunicorn
from tests.integration._load import PROJECT_PATH, TIMEOUT

if TYPE_CHECKING:
    from tests._servers import ServiceFiles

pytestmark = pytest.mark.integration

ENV = {
    "OTEL_CONTEXT_UNSAMPLED_LOG_RATIO": "0",
    "OTEL_CONTEXT_HOLD_LINES": "true",
    "OTEL_CONTEXT_HOLD_SLOW_MS": "400",
}
#: name -> (path, sampled, expected status, written?, held?)
MIX: dict[str, tuple[str, bool, int, bool, bool]] = {
    "sampled": (PROJECT_PATH, True, 200, True, False),
    "fine": (PROJECT_PATH, False, 200, False, False),
    "fast": ("/api/v1/async/work/?sleep_ms=0", False, 200, False, False),
    "failing": ("/api/v1/boom/", False, 500, True, True),
    "slow": ("/api/v1/async/work/?sleep_ms=300", False, 200, True, True),
}


def _call(service: Any, path: str, *, sampled: bool) -> tuple[str, int]:
    correlation_id = f"mix-{uuid.uuid4().hex}"
    headers = {
        "Authorization": f"Token {demo_data.user_token('alice')}",
        "traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-0{int(sampled)}",
        "Correlation-Id": correlation_id,
    }
    response = requests.get(service.url(path), headers=headers, timeout=TIMEOUT)
    return correlation_id, response.status_code


class TestLogSampling:
    def test_a_mix_of_requests(self, example_files: ServiceFiles) -> None:
        """Which lines appear, their held field, order and timestamps, and no leaks."""
        calls: dict[str, str] = {}
        with running_gunicorn(example_files, workers=1, threads=2, env=ENV) as service:
            for _ in range(2):
                for name, (path, sampled, status, _written, _held) in MIX.items():
                    correlation_id, got = _call(service, path, sampled=sampled)
                    assert got == status, name
                    calls[correlation_id] = name
        assert service.process.returncode == 0, service.stderr()
        lines = read_json_lines(example_files.log_file)
        by_request: dict[str, list[dict[str, Any]]] = {}
        for line in lines:
            by_request.setdefault(str(line.get("correlation.id")), []).append(line)
        for correlation_id, name in calls.items():
            _path, _sampled, _status, written, held = MIX[name]
            own = by_request.get(correlation_id, [])
            chatter = [line for line in own if line.get("level") in {"info", "debug"}]
            assert bool(chatter) is written, (name, own)
            assert all(line.get("log.held", False) is held for line in chatter), (name, chatter)
            stamps = [line["timestamp"] for line in chatter]
            assert stamps == sorted(stamps), (name, stamps)  # the order they were logged in
        slow = [line for cid, name in calls.items() if name == "slow" for line in by_request[cid]]
        events = [line["event"] for line in slow][:3]
        assert events == ["async.started", "async.bound", "async.finished"]
        assert all("log.held" not in line for line in lines if line.get("correlation.id") is None)
