"""Work started in a second process now and collected later: the other CPU core for independent reads.

A one-shot command on a big app has two independent jobs (`check` validates the schema and reads every plan
file); run one in a forked child and the two overlap. The child is only an accelerator: when the platform
cannot fork, when threads are running (a fork copies their locks mid-use), or when the child fails in any way
(an exception, a crash, a result that will not pickle), the job simply runs again in this process when its
result is asked for, so its errors surface exactly as they would without the child.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Generic, TypeVar

_T = TypeVar("_T")

# A job's result travels as a pickle behind this one byte; anything else (or nothing) means "run it here".
_OK = b"\x01"


class Pending(Generic[_T]):
    """A job started in a child process (or not started at all); `result()` waits for it."""

    def __init__(self, job: Callable[[], _T]) -> None:
        self._job = job
        self._pid: int | None = None
        self._reader: int | None = None
        if _can_fork():
            self._start()

    def _start(self) -> None:
        reader, writer = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(reader)
            os.close(writer)
            return
        if pid == 0:  # the child: run, send, leave without running the parent's exit handlers or flushing its output
            os.close(reader)
            _run_child(self._job, writer)
        os.close(writer)
        self._pid, self._reader = pid, reader

    def result(self) -> _T:
        """The job's value: the child's when it sent one, else the job run here (raising what it raises)."""
        received = self._collect()
        if received is not None:
            try:
                return pickle.loads(received)  # type: ignore[no-any-return]
            except Exception:  # a result that does not unpickle: the job runs again here
                pass
        return self._job()

    def cancel(self) -> None:
        """Stop the child if it still runs (the caller failed before asking for the result)."""
        if self._pid is not None:
            with suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        self._collect()

    def _collect(self) -> bytes | None:
        if self._reader is None or self._pid is None:
            return None
        reader, pid = self._reader, self._pid
        self._reader = self._pid = None
        chunks: list[bytes] = []
        try:
            while chunk := os.read(reader, 1 << 20):
                chunks.append(chunk)
        except OSError:
            chunks = []
        finally:
            os.close(reader)
        _, status = os.waitpid(pid, 0)
        data = b"".join(chunks)
        if status != 0 or not data.startswith(_OK):
            return None
        return data[len(_OK) :]


def _run_child(job: Callable[[], object], writer: int) -> None:
    code = 1
    try:
        data = _OK + pickle.dumps(job(), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(writer, view) :]
        code = 0
    except BaseException:  # any failure (Ctrl-C included): the parent runs the job itself
        pass
    finally:
        os._exit(code)


def _can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform != "darwin" and threading.active_count() == 1


@contextmanager
def started(job: Callable[[], _T]) -> Iterator[Pending[_T]]:
    """`job` started aside for the length of the block; a child still running when the block ends is stopped."""
    pending = Pending(job)
    try:
        yield pending
    finally:
        pending.cancel()
