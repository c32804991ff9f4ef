"""Cancellation token for long synchronous work (prediction, training, evaluation)."""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """Raised by long work when its token is cancelled."""


class CancelToken:
    """Set from any thread; long loops call :meth:`raise_if_cancelled` between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()
