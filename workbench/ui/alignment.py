"""Rigid alignment of a prior timepoint to the current one, in a background thread.

:class:`AlignmentJob` runs :func:`viewers.registration.rigid_register` (a few seconds of
SimpleITK) in a ``QThread`` so the window keeps answering; its signals arrive in the thread
that made the job (the GUI thread): :attr:`~AlignmentJob.progress` while it runs, then exactly
one of :attr:`~AlignmentJob.succeeded` (the 4x4 transform from the fixed image's world to the
moving image's world), :attr:`~AlignmentJob.cancelled` or :attr:`~AlignmentJob.failed` (a
message), then :attr:`~AlignmentJob.finished`. :meth:`~AlignmentJob.cancel` is polled by the
optimizer at every iteration, so a cancel takes effect within one iteration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import QObject, QThread, pyqtSignal

from viewers.image import ImageLayer
from viewers.registration import RegistrationCancelledError, rigid_register

Register = Callable[
    [ImageLayer, ImageLayer, Callable[[float], None], Callable[[], bool]], np.ndarray
]
"""``(fixed, moving, progress, cancelled) -> 4x4``: what the job runs."""


def _register(
    fixed: ImageLayer,
    moving: ImageLayer,
    progress: Callable[[float], None],
    cancelled: Callable[[], bool],
) -> np.ndarray:
    return rigid_register(fixed, moving, progress, cancelled)


class _Thread(QThread):
    """Runs the registration; its signals are queued to the job's thread."""

    progressed = pyqtSignal(float)
    done = pyqtSignal(object)
    stopped = pyqtSignal()
    broke = pyqtSignal(str)

    def __init__(
        self,
        fixed: ImageLayer,
        moving: ImageLayer,
        register: Register,
        stop: threading.Event,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._fixed = fixed
        self._moving = moving
        self._register = register
        self._stop = stop

    def run(self) -> None:
        """The registration, in the worker thread."""
        try:
            matrix = self._register(
                self._fixed, self._moving, self.progressed.emit, self._stop.is_set
            )
        except RegistrationCancelledError:
            self.stopped.emit()
        except Exception as exc:  # shown to the user; the thread must not die silently
            self.broke.emit(f"{type(exc).__name__}: {exc}")
        else:
            if self._stop.is_set():
                self.stopped.emit()
            else:
                self.done.emit(np.asarray(matrix, dtype=np.float64))


class AlignmentJob(QObject):
    """One rigid registration of ``moving`` onto ``fixed`` running in the background."""

    progress = pyqtSignal(float)
    """``(fraction 0–1)``, rising."""
    succeeded = pyqtSignal(object)
    """``(np.ndarray 4x4)``: maps a point of ``fixed``'s world to ``moving``'s world."""
    cancelled = pyqtSignal()
    """The user cancelled; no transform."""
    failed = pyqtSignal(str)
    """The registration raised; the message says what."""
    finished = pyqtSignal()
    """The thread ended (after exactly one of the three above)."""

    def __init__(
        self,
        fixed: ImageLayer,
        moving: ImageLayer,
        parent: QObject | None = None,
        *,
        register: Register = _register,
    ) -> None:
        super().__init__(parent)
        self.fixed = fixed
        self.moving = moving
        self._stop = threading.Event()
        self._thread = _Thread(fixed, moving, register, self._stop, self)
        self._thread.progressed.connect(self.progress)
        self._thread.done.connect(self.succeeded)
        self._thread.stopped.connect(self.cancelled)
        self._thread.broke.connect(self.failed)
        self._thread.finished.connect(self.finished)

    def start(self) -> None:
        """Start the registration in its thread."""
        self._thread.start()

    def cancel(self) -> None:
        """Ask the registration to stop (it does within one optimizer iteration)."""
        self._stop.set()

    @property
    def cancel_requested(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """Whether the thread is still working."""
        return self._thread.isRunning()

    def wait(self, milliseconds: int | None = None) -> bool:
        """Block until the thread ends (or ``milliseconds`` are up); True when it ended."""
        if milliseconds is None:
            return self._thread.wait()
        return self._thread.wait(milliseconds)
