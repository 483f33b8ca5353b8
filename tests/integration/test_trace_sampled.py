"""``trace_sampled`` on the example service's lines under gunicorn: true when kept, false when not.

The example's sampler is parent-based: a request whose ``traceparent`` says "not sampled" is
dropped. Its lines must say ``"trace_sampled": false`` and its trace must be absent from the
exported spans (what the README promises a reader); a sampled request's lines say ``true`` and
its trace is exported.
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

import pytest
import requests

from example.app import demo_data
from tests._servers import read_json_lines, running_gunicorn
from tests.integration._load import PROJECT_PATH, TIMEOUT, hex_id

if TYPE_CHECKING:
    from tests._servers import ServiceFiles

pytestmark = pytest.mark.integration


class TestTraceSampled:
    def test_lines_of_sampled_and_sampled_out_requests(self, example_files: ServiceFiles) -> None:
        """Every line with a trace_id has trace_sampled, equal to whether its trace was exported."""
        token = {"Authorization": f"Token {demo_data.user_token('alice')}"}
        calls = {}
        with running_gunicorn(example_files, workers=1, threads=2) as service:
            for flags, sampled in (("01", True), ("00", False)):
                trace_id, correlation_id = secrets.token_hex(16), f"sampled-{uuid.uuid4().hex}"
                headers = {
                    **token,
                    "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-{flags}",
                    "Correlation-Id": correlation_id,
                }
                response = requests.get(service.url(PROJECT_PATH), headers=headers, timeout=TIMEOUT)
                assert response.status_code == 200
                calls[correlation_id] = (trace_id, sampled)
        assert service.process.returncode == 0, service.stderr()

        lines = read_json_lines(example_files.log_file)
        assert all("trace_sampled" in line for line in lines if "trace_id" in line)
        exported = {
            hex_id(s["context"]["trace_id"]) for s in read_json_lines(example_files.span_file)
        }
        for correlation_id, (trace_id, sampled) in calls.items():
            own = [line for line in lines if line.get("correlation.id") == correlation_id]
            assert len(own) >= 3
            assert {line["trace_id"] for line in own} == {trace_id}
            assert {line["trace_sampled"] for line in own} == {sampled}
            assert (trace_id in exported) is sampled
