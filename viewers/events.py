"""A tiny toolkit-neutral signal: the models' way of saying "I changed".

The models are plain Python objects, not ``QObject``s, so they cannot use Qt signals. A
:class:`Signal` holds a list of callbacks and calls them in order on :meth:`Signal.emit`.
Bound methods are held weakly (a widget that is garbage-collected drops out on its own, so a
model never keeps a dead widget alive or calls into a deleted one); plain functions and
lambdas are held strongly, as their owner usually has no other reference to them.

This stands in for ``psygnal`` (which napari uses) without adding a dependency: the models
need nothing more than connect, disconnect, emit and a way to hold emissions back.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Callback = Callable[..., object]


class Signal:
    """An ordered list of callbacks, called with the arguments given to :meth:`emit`.

    A callback connected twice is called once. Exceptions raised by a callback propagate
    to the emitter (a broken listener must not fail silently).
    """

    __slots__ = ("_blocked", "_slots")

    def __init__(self) -> None:
        self._slots: list[weakref.WeakMethod[Callback] | Callback] = []
        self._blocked = 0

    def connect(self, callback: Callback) -> Callback:
        """Call ``callback(*args)`` on every emission; returns it (usable as a decorator)."""
        if self._find(callback) is None:
            if hasattr(callback, "__self__") and hasattr(callback, "__func__"):
                self._slots.append(weakref.WeakMethod(callback))
            else:
                self._slots.append(callback)
        return callback

    def disconnect(self, callback: Callback) -> None:
        """Stop calling ``callback``; no error if it was not connected."""
        index = self._find(callback)
        if index is not None:
            del self._slots[index]

    def emit(self, *args: Any) -> None:
        """Call every live callback with ``args``, in the order they were connected."""
        if self._blocked:
            return
        dead = False
        for slot in list(self._slots):
            if isinstance(slot, weakref.WeakMethod):
                method = slot()
                if method is None:
                    dead = True
                    continue
                method(*args)
            else:
                slot(*args)
        if dead:
            self._slots = [
                s for s in self._slots if not (isinstance(s, weakref.WeakMethod) and s() is None)
            ]

    @contextmanager
    def blocked(self) -> Iterator[None]:
        """Hold emissions back inside the ``with`` block (they are dropped, not queued)."""
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1

    def __len__(self) -> int:
        """Number of live callbacks."""
        return sum(
            1 for s in self._slots if not (isinstance(s, weakref.WeakMethod) and s() is None)
        )

    def _find(self, callback: Callback) -> int | None:
        for index, slot in enumerate(self._slots):
            target = slot() if isinstance(slot, weakref.WeakMethod) else slot
            if target is not None and target == callback:
                return index
        return None
