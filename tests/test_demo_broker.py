"""``example.broker``: which Celery broker the demo uses, and the folder broker's options.

The demo itself, on each broker, is tests/integration/test_demo.py; these check the choice
in-process. "No Redis" is made real: the default URL points at a port this process keeps
bound and never listens on, and ``PATH`` holds no ``redis-server``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from example import broker
from example.broker import (
    BrokerUnavailableError,
    demo_broker,
    filesystem_url,
    folder_of,
    fresh_folder_broker,
    transport_options,
)
from tests.otlp_receiver import closed_port


@pytest.fixture
def no_redis(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing answers at the default URL, and there is no redis-server to start."""
    monkeypatch.setattr(broker, "DEFAULT_BROKER_URL", f"redis://127.0.0.1:{closed_port()}/0")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("EXAMPLE_BROKER_URL", raising=False)
    monkeypatch.delenv("EXAMPLE_DEMO_BROKER", raising=False)


@pytest.mark.usefixtures("no_redis")
class TestDemoBroker:
    def test_without_redis_it_is_a_folder(self, tmp_path: Path) -> None:
        """auto, no Redis and no redis-server: the folder broker below the run's directory."""
        with demo_broker(tmp_path / "run") as chosen:
            assert chosen.folder == (tmp_path / "run" / "broker").resolve()
            assert "no Redis at redis://127.0.0.1:" in chosen.description
            assert (tmp_path / "run" / "broker" / "queue").is_dir()

    @pytest.mark.parametrize("choice", ["filesystem", "FileSystem "])
    def test_filesystem_is_forced(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, choice: str
    ) -> None:
        """EXAMPLE_DEMO_BROKER=filesystem: the folder, whatever else there is."""
        monkeypatch.setenv("EXAMPLE_DEMO_BROKER", choice)
        with demo_broker(tmp_path) as chosen:
            assert chosen.folder == (tmp_path / "broker").resolve()

    def test_redis_required_and_absent_is_a_message(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """EXAMPLE_DEMO_BROKER=redis without Redis: one error naming the option."""
        monkeypatch.setenv("EXAMPLE_DEMO_BROKER", "redis")
        with (
            pytest.raises(BrokerUnavailableError, match="EXAMPLE_DEMO_BROKER=redis: no Redis"),
            demo_broker(tmp_path),
        ):
            pass

    def test_an_unknown_choice_is_a_message(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A typo names the option and its values."""
        monkeypatch.setenv("EXAMPLE_DEMO_BROKER", "rabbitmq")
        with (
            pytest.raises(BrokerUnavailableError, match="one of auto, redis, filesystem"),
            demo_broker(tmp_path),
        ):
            pass

    def test_a_configured_folder_is_used(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """EXAMPLE_BROKER_URL=filesystem://localhost/<folder> wins over EXAMPLE_DEMO_BROKER."""
        monkeypatch.setenv("EXAMPLE_BROKER_URL", filesystem_url(tmp_path / "mine"))
        monkeypatch.setenv("EXAMPLE_DEMO_BROKER", "redis")
        with demo_broker(tmp_path / "run") as chosen:
            assert chosen.folder == (tmp_path / "mine").resolve()
            assert chosen.description.startswith("EXAMPLE_BROKER_URL, a folder")

    def test_a_configured_redis_must_answer(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A configured Redis URL that does not answer is an error naming the variable."""
        url = f"redis://127.0.0.1:{closed_port()}/3"
        monkeypatch.setenv("EXAMPLE_BROKER_URL", url)
        with (
            pytest.raises(BrokerUnavailableError, match=f"{url} \\(EXAMPLE_BROKER_URL\\)"),
            demo_broker(tmp_path),
        ):
            pass


@pytest.fixture
def broken_redis_server(no_redis: None, tmp_path: Path) -> Path:
    """A redis-server on PATH that cannot listen (it says so, as the real one does)."""
    binary = tmp_path / "empty-bin" / "redis-server"
    binary.write_text(
        "#!/bin/sh\necho 'Could not create server TCP listening socket: Address already in use'\n"
        "exit 1\n"
    )
    binary.chmod(0o755)
    return binary


class TestRedisServerThatCannotStart:
    def test_auto_falls_back_to_the_folder(self, broken_redis_server: Path, tmp_path: Path) -> None:
        """auto: tried (five times, on new ports), then the folder, saying why."""
        with demo_broker(tmp_path / "run") as chosen:
            assert chosen.folder == (tmp_path / "run" / "broker").resolve()
            assert "address already in use" in chosen.description
        log = (tmp_path / "run" / "redis" / "redis.log").read_text()
        assert "Address already in use" in log

    def test_redis_required_is_an_error(
        self, broken_redis_server: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """EXAMPLE_DEMO_BROKER=redis: no fallback, the reason in the message."""
        monkeypatch.setenv("EXAMPLE_DEMO_BROKER", "redis")
        with (
            pytest.raises(BrokerUnavailableError, match=r"redis: .*address already in use"),
            demo_broker(tmp_path),
        ):
            pass


class TestFolderBroker:
    def test_the_url_names_the_folder(self, tmp_path: Path) -> None:
        """filesystem_url and folder_of agree; a Redis URL has no folder."""
        url = filesystem_url(tmp_path / "b")
        assert url.startswith("filesystem://localhost/")  # kombu warns without a host
        assert folder_of(url) == (tmp_path / "b").resolve()
        assert folder_of("redis://127.0.0.1:6379/0") is None

    def test_options_share_one_queue_folder(self, tmp_path: Path) -> None:
        """Producers write where the worker reads; consumed messages are kept."""
        options = transport_options(filesystem_url(tmp_path / "b"))
        assert options["data_folder_in"] == options["data_folder_out"]
        assert options["store_processed"] is True
        for key in ("data_folder_in", "control_folder", "processed_folder"):
            folder = Path(options[key])
            assert folder.is_dir()
            assert folder.parent == (tmp_path / "b").resolve()
        assert transport_options("redis://127.0.0.1:6379/0") == {}

    def test_a_fresh_folder_holds_no_earlier_message(self, tmp_path: Path) -> None:
        """Each run starts empty: a message a killed run left behind is not consumed."""
        first = fresh_folder_broker(tmp_path / "b")
        assert first.folder is not None
        (first.folder / "queue" / "1_x.demo.msg").write_text("{}")
        second = fresh_folder_broker(tmp_path / "b")
        assert second.folder is not None
        assert not list((second.folder / "queue").iterdir())
