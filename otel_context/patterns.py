"""Small matchers shared by the inbound and outbound baggage policies.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


def key_allowed(key: str, rules: Iterable[str]) -> bool:
    """Whether *key* matches a rule: exact, ``prefix.`` (dot-terminated) or ``prefix*``."""
    for rule in rules:
        if rule.endswith("*"):
            if key.startswith(rule[:-1]):
                return True
        elif key == rule or (rule.endswith(".") and key.startswith(rule)):
            return True
    return False


def _labels_match(pattern: list[str], labels: list[str]) -> bool:
    if not pattern:
        return not labels
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_labels_match(rest, labels[i:]) for i in range(1, len(labels) + 1))
    if not labels:
        return False
    return (head in {"*", labels[0]}) and _labels_match(rest, labels[1:])


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """Whether *host* matches a pattern, compared label by label, case-insensitively.

    ``*`` matches exactly one label (so ``*`` alone matches single-label names such as
    compose services), ``**`` matches one or more labels (``**.internal``; ``**`` alone is
    every host). IP addresses compare as whole strings.
    """
    host = host.strip().strip("[]").rstrip(".").lower()
    if not host:
        return False
    is_ip = ":" in host or host.replace(".", "").isdigit()
    for raw in patterns:
        pattern = raw.strip().strip("[]").rstrip(".").lower()
        if is_ip:
            if pattern in {host, "**"}:
                return True
        elif _labels_match(pattern.split("."), host.split(".")):
            return True
    return False
