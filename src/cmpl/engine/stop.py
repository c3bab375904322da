"""Stopping on request: a cluster pre-empts with SIGTERM, a person presses Ctrl-C."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

__all__ = ["StopSignals"]


class StopSignals:
    """While entered, SIGTERM and SIGINT only record that a stop was asked for, so the loop can finish its
    step and write a checkpoint; a second SIGINT raises ``KeyboardInterrupt`` at once. Outside the main
    thread (where Python cannot install handlers) it does nothing."""

    def __init__(self) -> None:
        self.received: str | None = None  # the signal's name, once one came
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
