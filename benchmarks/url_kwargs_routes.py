"""What route-scoped ``URL_KWARGS`` cost per request (issue 22.4), as ratios within one run.

``python -m benchmarks.url_kwargs_routes`` from the repository root. Two configurations on
the same nested DRF route (``/api/organisations/3/projects/5/``, kwargs ``organisation_pk``
and ``pk``): today's unscoped keys only, and the same plus the scoped ``pk@…`` keys of
``tests.testapp.routes``. It times, alternating the two, (1) the URL-kwarg step of
``process_view`` (:meth:`DjangoIdentifiers.on_view`) and (2) a whole request through the
Django test client with DjangoInstrumentor and otel_context, and prints the medians.
``--instructions [CONFIG…]`` counts CPU instructions with valgrind's callgrind instead (a run with N
calls minus a run with none, divided by N): unlike time, unmoved by other load.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

from benchmarks.instructions import run_module

if TYPE_CHECKING:
    from collections.abc import Callable

PATH = "/api/organisations/3/projects/5/"
#: Today's way to get project.id from this route's ``pk``: tags every other route's ``pk`` too.
UNSCOPED = {"organisation_pk": "organisation.id", "project_pk": "project.id", "pk": "project.id"}
#: The scoped keys' attributes under unscoped keys: as many identifier keys, no route scope.
SAME_KEYS = {
    **UNSCOPED,
    "tenant_pk": "tenant.id",
    "site_pk": "site.id",
    "environment_pk": {"lookup": "tests.testapp.routes.environment_ids"},
}
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
    """Set up and warm up every step under *config*, then run *step* *number* times.

    The set-up is the same whatever *step* is, so one run with no calls is every step's base.
    """
    _setup()
    from django.test import Client  # noqa: PLC0415

    from tests.testapp.routes import URL_KWARGS  # noqa: PLC0415

    url_kwargs = {
        "unscoped": UNSCOPED,
        "same_keys": SAME_KEYS,
        "scoped": {**UNSCOPED, **URL_KWARGS},
    }[config]
    _on_view, rules = _on_view_step(url_kwargs)
    calls = {"rules": rules, "request": _request(Client())}
    for call in calls.values():
        for _ in range(200):
            call()
    for _ in range(number):
        calls[step]()


#: Calls per counted run, by step.
COUNTS = {"rules": 20_000, "request": 300}


def _instructions(config: str, step: str, number: int) -> int:
    return run_module(["benchmarks.url_kwargs_routes", "worker", config, step, str(number)])


def instructions() -> None:
    """Print instructions per call of each step per configuration (3 runs at a time).

    ``same_keys`` names the scoped keys' attributes with unscoped keys: ``scoped`` minus
    ``same_keys`` is what the route scope costs, beyond what naming more identifiers costs.
    """
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    configs = sys.argv[2:] or ["unscoped", "same_keys", "scoped"]
    runs = [(config, step, n) for config in configs for step, n in COUNTS.items()]
    runs += [(config, "rules", 0) for config in configs]
    with ThreadPoolExecutor(3) as pool:
        counts = dict(zip(runs, pool.map(lambda run: _instructions(*run), runs), strict=True))
    for step, number in COUNTS.items():
        per_call = {
            config: (counts[config, step, number] - counts[config, "rules", 0]) / number
            for config in configs
        }
        print(f"{step}: " + ", ".join(f"{c} {n:.0f}" for c, n in per_call.items()))


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1:2] == ["--instructions"]:
        instructions()
    else:
        main()
