"""Sphinx configuration of otel_context's documentation: ``make docs`` builds it.

The pages are markdown (MyST), so the text reads the same on a code host as in the built HTML.
"""

from __future__ import annotations

import otel_context

project = "otel_context"
author = "otel_context contributors"
project_copyright = "otel_context contributors"
release = otel_context.__version__
version = release

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# headings h1-h3 get anchors, so "page.md#a-section" links resolve and are checked
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"otel_context {release}"
