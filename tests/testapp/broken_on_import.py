"""A module that raises while it is imported, as a resolver module with a bug would."""

from __future__ import annotations

msg = "this module is broken on purpose"
raise RuntimeError(msg)
