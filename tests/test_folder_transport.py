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
from typing import TYPE_CHECKING

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

    def test_kombus_own_transport_shows_half_written_messages(self, tmp_path: Path) -> None:
        """Why ours exists: kombu's writes in place. If this fails, kombu fixed it upstream
        (celery/kombu#1551) and example/folder_transport.py can go."""
        whole, broken = race("filesystem", tmp_path / "kombu")
        assert broken > 0
        assert whole + broken == MESSAGES
