"""What route-scoped ``URL_KWARGS`` cost per request (issue 22.4), as ratios within one run.

``python -m benchmarks.url_kwargs_routes`` from the repository root. Two configurations on
the same nested DRF route (``/api/organisations/3/projects/5/``, kwargs ``organisation_pk``
and ``pk``): today's unscoped keys only, and the same plus the scoped ``pk@…`` keys of
``tests.testapp.routes``. It times, alternating the two, (1) the URL-kwarg step of
``process_view`` (:meth:`DjangoIdentifiers.on_view`) and (2) a whole request through the
Django test client with DjangoInstrumentor and otel_context, and prints the medians.
``--instructions`` counts CPU instructions with valgrind's callgrind instead (a run with N
calls minus a run with none, divided by N): unlike time, unmoved by other load.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

PATH = "/api/organisations/3/projects/5/"
#: Today's way to get project.id from this route's ``pk``: tags every other route's ``pk`` too.
UNSCOPED = {"organisation_pk": "organisation.id", "project_pk": "project.id", "pk": "project.id"}
ROUNDS = 15


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django  # noqa: PLC0415 - after the settings module is chosen
    from django.conf import settings  # noqa: PLC0415

    django.setup()
    settings.ROOT_URLCONF = "tests.testapp.routes"
    settings.ALLOWED_HOSTS = ["*"]
    from opentelemetry import trace  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415

    trace.set_tracer_provider(TracerProvider())  # spans recorded, not exported
    import structlog  # noqa: PLC0415

    from otel_context import StructlogOTelProcessor  # noqa: PLC0415

    structlog.configure(
        processors=[StructlogOTelProcessor(), structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(open(os.devnull, "w")),  # noqa: SIM115, PTH123
    )


def _configure(url_kwargs: dict[str, object]) -> None:
    from otel_context import conf  # noqa: PLC0415

    conf.configure(url_kwargs=url_kwargs)


def _on_view_step(
    url_kwargs: dict[str, object],
) -> tuple[Callable[[], object], Callable[[], object]]:
    """``on_view`` of one routed request and its ``URL_KWARGS`` lookup alone, to call repeatedly."""
    from django.test import RequestFactory  # noqa: PLC0415
    from django.urls import resolve  # noqa: PLC0415

    from otel_context import conf  # noqa: PLC0415
    from otel_context.django.identifiers import DjangoIdentifiers  # noqa: PLC0415
    from otel_context.scope import RequestScope  # noqa: PLC0415

    _configure(url_kwargs)
    request = RequestFactory().get(PATH)
    request.resolver_match = match = resolve(PATH)
    config = conf.get_config()
    identifiers = DjangoIdentifiers(request, RequestScope(keys=config.server_owned), config)
    kwargs = match.kwargs
    return (lambda: identifiers.on_view(kwargs)), identifiers._url_rules


def _per_call_ns(call: Callable[[], object], number: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(number):
        call()
    return (time.perf_counter_ns() - start) / number


def _request(client: Any) -> Callable[[], object]:
    def call() -> object:
        response = client.get(PATH)
        assert response.status_code == 200
        return response

    return call


def main() -> None:
    """Print medians (µs) and ratios of both steps for both configurations."""
    _setup()
    from django.test import Client  # noqa: PLC0415
    from opentelemetry.instrumentation.django import DjangoInstrumentor  # noqa: PLC0415

    from tests.testapp.routes import URL_KWARGS  # noqa: PLC0415

    configs = {"unscoped": UNSCOPED, "scoped": {**UNSCOPED, **URL_KWARGS}}
    steps = {name: _on_view_step(value) for name, value in configs.items()}
    step_ns: dict[str, list[float]] = {name: [] for name in configs}
    rules_ns: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(ROUNDS):
        for name, (step, rules) in steps.items():
            step_ns[name].append(_per_call_ns(step, 20_000))
            rules_ns[name].append(_per_call_ns(rules, 200_000))
    DjangoInstrumentor().instrument()
    client = Client()
    request_ns: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(ROUNDS):
        for name, value in configs.items():
            _configure(value)
            request_ns[name].append(_per_call_ns(_request(client), 300))
    for label, results in (
        ("the route's URL_KWARGS rules", rules_ns),
        ("on_view (URL ids, resolvers, binding)", step_ns),
        ("request (DjangoInstrumentor + otel_context)", request_ns),
    ):
        medians = {name: statistics.median(values) / 1000 for name, values in results.items()}
        ratio = medians["scoped"] / medians["unscoped"]
        print(
            f"{label}: unscoped {medians['unscoped']:.2f} µs, scoped {medians['scoped']:.2f} µs,"
            f" ratio {ratio:.3f}, difference {medians['scoped'] - medians['unscoped']:+.2f} µs"
        )


def _worker(config: str, step: str, number: int) -> None:
    """Set up, warm *step* up under *config*, then run it *number* times (under callgrind)."""
    _setup()
    from tests.testapp.routes import URL_KWARGS  # noqa: PLC0415

    url_kwargs = UNSCOPED if config == "unscoped" else {**UNSCOPED, **URL_KWARGS}
    if step == "request":
        from django.test import Client  # noqa: PLC0415

        _configure(url_kwargs)
        call = _request(Client())
    else:
        call = _on_view_step(url_kwargs)[step == "rules"]
    for _ in range(200):
        call()
    for _ in range(number):
        call()


_COLLECTED = re.compile(r"Collected : (\d+)")
#: Calls per counted run, by step.
COUNTS = {"rules": 20_000, "on_view": 5_000, "request": 300}


def _instructions(config: str, step: str, number: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    command += ["-m", __spec__.name if __spec__ else "benchmarks.url_kwargs_routes"]
    command += ["worker", config, step, str(number)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(done.stderr[-2000:])
    return int(found.group(1))


def instructions() -> None:
    """Print instructions per call of each step for both configurations."""
    for step, number in COUNTS.items():
        per_call = {
            config: (_instructions(config, step, number) - _instructions(config, step, 0)) / number
            for config in ("unscoped", "scoped")
        }
        print(
            f"{step}: unscoped {per_call['unscoped']:.0f}, scoped {per_call['scoped']:.0f}"
            f" instructions, difference {per_call['scoped'] - per_call['unscoped']:+.0f}"
            f" ({per_call['scoped'] / per_call['unscoped']:.4f}x)"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1:2] == ["--instructions"]:
        instructions()
    else:
        main()
