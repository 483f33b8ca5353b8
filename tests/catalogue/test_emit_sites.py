"""The structlog emit-site scan of one file: receivers, events, bound kwargs, bind() calls."""

from __future__ import annotations

from otel_context.catalogue import BindSite, EmitSite, scan_source


def _sites(source: str) -> list[tuple[int, str, str | None, tuple[str, ...], bool]]:
    emits, _ = scan_source(source, "m.py")
    return [(s.line, s.method, s.event, s.kwargs, s.heuristic) for s in emits]


class TestScanSource:
    def test_bind_chains_and_receivers(self) -> None:
        """Bound kwargs join the call's; ``new()`` starts afresh; ``unbind()`` passes through."""
        source = (
            "import structlog as sl\n"
            "from structlog import stdlib\n"
            "base = sl.get_logger().bind(a=1)\n"
            "other = stdlib.get_logger()\n"
            "base.bind(b=2).info('e1', c=3, **extra)\n"
            "base.new(d=4).unbind('x').error('e2')\n"
            "other.log(20, 'e3', exc_info=True, stack_info=True)\n"
            "other.info(event='e4', f=5)\n"
            "sl.wrap_logger(None).ainfo(f'{x}')\n"
        )
        assert _sites(source) == [
            (5, "info", "e1", ("a", "b", "c"), False),
            (6, "error", "e2", ("d",), False),
            (7, "log", "e3", (), False),
            (8, "info", "e4", ("f",), False),
            (9, "ainfo", None, (), False),
        ]

    def test_what_is_not_a_structlog_logger(self) -> None:
        """stdlib loggers (even named ``logger``), unknown objects and odd calls are skipped."""
        source = (
            "import logging\n"
            "from logging import getLogger\n"
            "from myapp import get_logger\n"
            "logger = logging.getLogger(__name__)\n"
            "self.logger = getLogger()\n"
            "logger.info('stdlib')\n"
            "self.logger.info('stdlib')\n"
            "messages.info(request, 'flash')\n"
            "logging.getLogger().info('stdlib')\n"
            "get_logger().info('unknown wrapper')\n"
            "handlers[0].info('x')\n"
            "make()().info('x')\n"
            "structlog.get_logger().info('no import of structlog')\n"
            "thing.bind(a=1).info('bound, but not a logger')\n"
            "first, second = log, log\n"
            "later: Logger\n"
            "first.info('a tuple assignment is not followed')\n"
        )
        assert _sites(source) == []

    def test_heuristic_names(self) -> None:
        """``log``/``logger``/``_log``/``_logger`` of unknown origin count, marked as a guess."""
        source = (
            "from myapp import get_logger\n"
            "log = get_logger()\n"
            "audit = log.bind(a=1)\n"
            "log.info('e1')\n"
            "self._logger.warning('e2')\n"
            "audit.info('e3')\n"
        )
        assert _sites(source) == [
            (4, "info", "e1", (), True),
            (5, "warning", "e2", (), True),
            (6, "info", "e3", ("a",), True),
        ]

    def test_otel_context_bind_calls(self) -> None:
        """``otel_context.bind()`` under any import spelling; other ``bind`` calls are not it."""
        source = (
            "import otel_context as oc\n"
            "from otel_context import bind as bind_ids\n"
            "oc.bind(a__b=1)\n"
            "bind_ids(c=2, **more)\n"
            "other.bind(d=3)\n"
            "bind(e=4)\n"
        )
        _, binds = scan_source(source, "m.py")
        assert binds == [BindSite("m.py", 3, ("a__b",)), BindSite("m.py", 4, ("c",))]

    def test_attributes_are_dotted_without_repeats(self) -> None:
        """``EmitSite.attributes`` shows ``__`` as ``.`` and each name once."""
        site = EmitSite("m.py", 1, "info", "e", ("a__b", "c", "a__b"), heuristic=False)
        assert site.attributes == ("a.b", "c")
