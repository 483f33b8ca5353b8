"""``example.folder_transport``: the demo's folder broker never shows a worker half a message.

A producer thread publishes while a consumer polls the same folder as fast as it can, through
real kombu connections on real files. kombu's own filesystem transport writes a message in
place, so the consumer reads some of them empty or cut short (a ``ValueError`` from the JSON
decoder, which kills a Celery worker's consumer); ours writes beside the queue and renames.
"""

from __future__ import annotations

import threading
import time
import uuid
from queue import Empty
from typing import IO, TYPE_CHECKING

import kombu.transport.filesystem as kombu_filesystem
import pytest
from kombu import Connection

from example.broker import filesystem_url, transport_options

if TYPE_CHECKING:
    from pathlib import Path

MESSAGES = 100
#: Bytes of padding per message: writing it takes long enough for a poll to land inside.
PADDING = 200_000


def race(transport: str, folder: Path) -> tuple[int, int]:
    """Publish MESSAGES while polling for them: (messages read whole, messages read broken)."""
    url = filesystem_url(folder)
    options = transport_options(url)
    queue = f"race-{uuid.uuid4().hex}"  # kombu caches declarations per process, by name
    with (
        Connection(url, transport=transport, transport_options=options) as producer,
        Connection(url, transport=transport, transport_options=options) as consumer,
    ):
        outbox, inbox = producer.SimpleQueue(queue), consumer.SimpleQueue(queue)

        def publish() -> None:
            for index in range(MESSAGES):
                outbox.put({"index": index, "padding": "x" * PADDING})

        thread = threading.Thread(target=publish)
        thread.start()
        whole = broken = 0
        deadline = time.monotonic() + 60  # a lost message ends the race here
        while whole + broken < MESSAGES and time.monotonic() < deadline:
            try:
                inbox.get(block=False).ack()
                whole += 1
            except Empty:
                continue
            except ValueError:
                broken += 1
        thread.join()
    return whole, broken


class TestFolderTransport:
    def test_the_worker_reads_every_message_whole(self, tmp_path: Path) -> None:
        """Ours: each of the 100 messages is read complete, none is lost."""
        assert race("example.folder_transport:Transport", tmp_path / "ours") == (MESSAGES, 0)

    def test_kombus_own_transport_shows_half_written_messages(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Why ours exists: kombu's creates the message file where a consumer can see it, then
        writes it. A poll landing between the two (pinned here, not raced) reads an empty file:
        the JSON decoder's ``ValueError``. If this fails, kombu fixed it upstream
        (celery/kombu#1551) and example/folder_transport.py can go."""
        url = filesystem_url(tmp_path / "kombu")
        options = transport_options(url)
        queue = f"pinned-{uuid.uuid4().hex}"
        seen: list[BaseException | None] = []
        with (
            Connection(url, transport="filesystem", transport_options=options) as producer,
            Connection(url, transport="filesystem", transport_options=options) as consumer,
        ):
            outbox, inbox = producer.SimpleQueue(queue), consumer.SimpleQueue(queue)
            locked = kombu_filesystem.lock

            def lock_then_poll(file: IO[bytes], flags: int) -> None:
                locked(file, flags)
                if str(file.name).endswith(f"{queue}.msg") and not seen:
                    try:  # the file exists, nothing is written yet: the consumer looks now
                        inbox.get(block=False).ack()
                        seen.append(None)
                    except (Empty, ValueError) as error:
                        seen.append(error)

            monkeypatch.setattr(kombu_filesystem, "lock", lock_then_poll)
            outbox.put({"index": 0, "padding": "x" * 10})
        assert len(seen) == 1
        assert isinstance(seen[0], ValueError), seen
