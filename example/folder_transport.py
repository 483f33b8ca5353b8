"""kombu's filesystem transport, with each message whole before a worker can see it.

The demo's folder broker (:mod:`example.broker`). kombu's own ``Channel._put`` creates the
message file in the queue folder, then writes it: a worker that lists the folder in between
moves the file away and reads it empty, and its consumer dies on the JSON error (the symptom
of celery/kombu#1551). Here a message is written in ``<folder>/incoming/`` and renamed into
the queue folder, which is atomic within one file system. Everything else is kombu's.

Celery finds it through ``broker_transport`` (:func:`example.broker.celery_settings`).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

__all__ = ["Channel", "Transport"]


class Channel(filesystem.Channel):
    """A filesystem channel whose messages appear in the queue folder complete."""

    # kombu's filesystem Channel names the second argument `payload`, its base `message`.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Write *payload* beside the queue folder, then rename it in.

        The name keeps kombu's ``<ms>_<uuid>.<queue>.msg``: its ``_get`` takes a queue's
        messages by that suffix, oldest first by the millisecond prefix.
        """
        queue_folder = Path(self.data_folder_out)
        incoming = queue_folder.parent / "incoming"
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        try:
            incoming.mkdir(exist_ok=True)
            (incoming / name).write_text(dumps(payload))  # type: ignore[no-untyped-call]
            (incoming / name).replace(queue_folder / name)
        except OSError as exc:
            msg = f"Cannot add file {name!r} to {queue_folder}"
            raise ChannelError(msg) from exc


class Transport(filesystem.Transport):
    """kombu's filesystem transport with :class:`Channel`."""

    Channel = Channel
