"""Install hints that work as printed, today.

otel_context is not on a package index yet, so ``pip install 'otel-context[asgi]'`` fails.
A hint names the extra with where its commands are (the README's Install: from a clone, from
the wheel, and from PyPI once published), and the one package the extra brings, pinned to
the release that matches what is installed (OpenTelemetry releases them in lockstep).
"""

from __future__ import annotations

from importlib import metadata


def installed_version(distribution: str) -> str | None:
    """The installed version of *distribution*, or ``None``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def extra_hint(extra: str, package: str, released_with: str) -> str:
    """How to install otel_context's *extra*, which brings *package*.

    Args:
        extra: The extra's name (``asgi``).
        package: The distribution it brings (``opentelemetry-instrumentation-asgi``).
        released_with: An installed distribution released together with *package*: its
            version pins *package*, so pip picks the release that fits.
    """
    version = installed_version(released_with)
    pin = f"=={version}" if version else ""
    return (
        f"Install otel_context's [{extra}] extra (see Install in its README), "
        f"or only what it brings: pip install '{package}{pin}'"
    )
