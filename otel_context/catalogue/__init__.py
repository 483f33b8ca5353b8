"""The common-attributes catalogue and the static scans behind ``otel_context_catalogue``.

Three concerns, one module each: the document (:mod:`.document`), the structlog emit-site scan
(:mod:`.emit_sites`, reported by :mod:`.emit_report`) and the scan of the application's inbound
baggage reads (:mod:`.baggage_reads`); :mod:`.project` walks a source tree for both scans.
Nothing here needs Django.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context.catalogue.baggage_reads import BaggageRead, Verdict, dropped_keys, verdict
from otel_context.catalogue.document import Attribute, bound_names, collect, render
from otel_context.catalogue.emit_sites import BindSite, EmitSite, scan_source
from otel_context.catalogue.project import DEFAULT_EXCLUDE, Scan, baggage_reads, scan

__all__ = [
    "DEFAULT_EXCLUDE",
    "Attribute",
    "BaggageRead",
    "BindSite",
    "EmitSite",
    "Scan",
    "Verdict",
    "baggage_reads",
    "bound_names",
    "collect",
    "dropped_keys",
    "render",
    "scan",
    "scan_source",
    "verdict",
]
