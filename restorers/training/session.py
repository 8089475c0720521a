"""What every long job shares: signals that stop it cleanly and a progress report that suits where it goes.

* :func:`deferred_signals` turns SIGINT / SIGTERM into a :class:`StopRequest` the job checks between steps
  (a step is never cut in half); the job checkpoints and raises :class:`Interrupted`, whose
  :attr:`~Interrupted.exit_code` follows the shell convention (130 for Ctrl-C, 143 for SIGTERM).
* :func:`progress_bar` is a tqdm bar on a terminal and a plain line every 10% in a log file or pipe (no
  carriage returns in logs).

Training loops (:mod:`fh_gym.restorers.training.loop`, the SB3 runs) and the command line use them.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from tqdm.auto import tqdm


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal after checkpointing; :attr:`exit_code` follows the shell convention
    (128 + signal number: 130 for Ctrl-C / SIGINT, 143 for SIGTERM)."""

    def __init__(self, message: str = "interrupted", signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopRequest:
    """Set by :func:`deferred_signals` when SIGINT or SIGTERM arrives: ``signum`` (None until then)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    def interrupted(self, message: str) -> Interrupted:
        """The exception to raise once the work is checkpointed."""
        name = signal.Signals(self.signum or signal.SIGINT).name
        return Interrupted(f"{message} ({name})", self.signum or signal.SIGINT)


@contextlib.contextmanager
def deferred_signals() -> Iterator[StopRequest]:
    """Turn SIGINT / SIGTERM into a :class:`StopRequest` that the loop checks between steps, so a step is never
    cut in half (networks updated, step count not). A second signal of the same kind stops at once
    (:class:`Interrupted`). Outside the main thread signals cannot be handled and the request stays unset."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def on_signal(signum: int, frame: Any) -> None:
        if request.signum == signum:
            raise Interrupted("stopped at once (second signal)", signum)
        request.signum = signum

    handled = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, on_signal) for sig in handled}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class LineProgress:
    """A progress report for logs that are not a terminal: one plain line every ``every`` of the total (no
    carriage returns), with the same ``update`` / ``set_postfix`` / ``close`` calls as a tqdm bar."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "it", every: float = 0.1,
                 stream: Any = None) -> None:
        self.total, self.n, self.desc, self.unit = int(total), int(initial), desc, unit
        self.step = max(1, int(self.total * every))
        self.stream = stream or sys.stderr
        self.postfix = ""
        self.started = time.perf_counter()
        self._next = (self.n // self.step + 1) * self.step

    def update(self, n: int = 1) -> None:
        self.n += int(n)
        if self.n >= self._next or self.n == self.total:
            self._next = (self.n // self.step + 1) * self.step
            self._print()

    def set_postfix(self, values: Mapping[str, Any] | None = None, refresh: bool = False, **kwargs: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in {**dict(values or {}), **kwargs}.items())

    def _print(self) -> None:
        share = 100.0 * self.n / self.total if self.total else 100.0
        minutes = (time.perf_counter() - self.started) / 60
        extra = f" {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.n}/{self.total} {self.unit} ({share:.0f}%, {minutes:.1f} min){extra}",
              file=self.stream, flush=True)

    def close(self) -> None:
        pass


def progress_bar(total: int, *, initial: int = 0, desc: str = "", unit: str = "it", enabled: bool = True) -> Any:
    """A tqdm bar on a terminal; in a log file or pipe a :class:`LineProgress` (a line every 10%) instead of
    tqdm's carriage returns; nothing when ``enabled`` is false."""
    if not enabled:
        return tqdm(total=total, initial=initial, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True)
    return LineProgress(total, initial, desc, unit)
