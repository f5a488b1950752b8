"""The one asyncio event loop of a worker process, where ``async def`` receivers run.

It lives in a thread of its own, started on first use. A handler thread hands it a
coroutine and waits for the result, so an async receiver counts against ``--threads``
like any other, and Django's async rules apply inside it (the ORM through its ``a``
methods or ``sync_to_async``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Any


class ReceiverExited(Exception):
    """An async receiver raised SystemExit or KeyboardInterrupt: a failure of its message."""


class EventLoopThread:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="django-sqs-event-loop", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    def run(self, awaitable: Awaitable[Any]) -> Any:
        """Await ``awaitable`` on the loop; block this thread until it is done."""

        async def wrapper() -> Any:
            try:
                return await awaitable
            except (SystemExit, KeyboardInterrupt) as exc:
                # Raised inside the loop, these would end run_forever() and the loop's
                # thread, leaving this caller (and every later one) waiting for ever.
                raise ReceiverExited(f"the receiver raised {type(exc).__name__}") from exc

        return asyncio.run_coroutine_threadsafe(wrapper(), self._start()).result()

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(5)
        if not loop.is_running():
            loop.close()
