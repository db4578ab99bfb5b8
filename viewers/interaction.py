"""Toolkit-neutral input: pointer events, key names, and the table of what they do.

``viewers.qt`` converts ``QMouseEvent``/``QWheelEvent``/``QKeyEvent`` into these; the models
act on them, so every gesture is testable with synthetic events and no screen.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from viewers.view import SliceView


class PointerKind(enum.StrEnum):
    """What the pointer did."""

    PRESS = "press"
    MOVE = "move"
    RELEASE = "release"
    WHEEL = "wheel"
    LEAVE = "leave"
    """The pointer left the view (readouts clear)."""


class Buttons(enum.IntFlag):
    """Mouse buttons (combinable)."""

    NONE = 0
    LEFT = 1
    RIGHT = 2
    MIDDLE = 4


class Modifiers(enum.IntFlag):
    """Keyboard modifiers held during an event (combinable). CTRL is Command on macOS."""

    NONE = 0
    SHIFT = 1
    CTRL = 2
    ALT = 4
    META = 8


WHEEL_NOTCH = 120.0
"""Wheel delta of one notch of a standard mouse wheel (eighths of a degree, as in Qt)."""


@dataclass(frozen=True, slots=True)
class PointerEvent:
    """One pointer event in view pixels (``(0, 0)`` top-left corner, ``y`` down).

    ``buttons`` are the buttons held *after* the event (a press includes the pressed
    button, a release no longer does); ``button`` is the one that was pressed or released.
    ``wheel_delta`` is vertical, in eighths of a degree (120 per notch; positive = away from
    the user, "wheel up").
    """

    kind: PointerKind
    x: float
    y: float
    buttons: Buttons = Buttons.NONE
    button: Buttons = Buttons.NONE
    modifiers: Modifiers = Modifiers.NONE
    wheel_delta: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", PointerKind(self.kind))
        object.__setattr__(self, "buttons", Buttons(self.buttons))
        object.__setattr__(self, "button", Buttons(self.button))
        object.__setattr__(self, "modifiers", Modifiers(self.modifiers))
        if not (math.isfinite(self.x) and math.isfinite(self.y)):
            raise ValueError(f"pointer position must be finite, got {self.x}, {self.y}")


class Key(enum.StrEnum):
    """Keys the views understand (the Qt layer maps its key codes to these)."""

    UP = "Up"
    DOWN = "Down"
    LEFT = "Left"
    RIGHT = "Right"
    PAGE_UP = "PageUp"
    PAGE_DOWN = "PageDown"
    HOME = "Home"
    END = "End"
    PLUS = "+"
    MINUS = "-"
    EQUAL = "="
    """The unshifted ``+`` key: zooms in like ``+``; with Alt it grows the brush."""
    ENTER = "Enter"
    """Return or Enter: apply the grow preview, close the polygon."""
    ESCAPE = "Escape"
    """Cancel the tool's pending gesture (grow preview, open polygon)."""
    R = "R"
    I = "I"  # noqa: E741 - the key is called I
    A = "A"
    BRACKET_LEFT = "["
    BRACKET_RIGHT = "]"
    PRESET_1 = "1"
    PRESET_2 = "2"
    PRESET_3 = "3"
    PRESET_4 = "4"
    PRESET_5 = "5"
    PRESET_6 = "6"


PAGE_SLICES = 10
"""Slices moved by PageUp/PageDown."""


class PointerTool(Protocol):
    """What a :class:`viewers.view.SliceView` accepts as its active tool (``set_tool``).

    The view offers each pointer event to the tool first, unless one of its own drags
    (window/level, pan, cursor) is in progress; the tool returns True when it used the
    event (the view then only repaints) and False to let the view act as it would without a
    tool (Ctrl+drag, middle drag and the plain wheel are the view's). Keys are offered the
    same way. :class:`viewers.tools.Brush`, :class:`viewers.tools.PolygonTool` and
    :class:`viewers.grow.GrowTool` are tools.
    """

    def handle_pointer(self, event: PointerEvent, view: SliceView) -> bool:
        """Act on a pointer event of ``view``; True when used (the view should not see it)."""
        ...

    def handle_key(self, key: Key | str, modifiers: Modifiers) -> bool:
        """Act on a key; True when used."""
        ...


def shortcut_help() -> list[tuple[str, str]]:
    """``(key or gesture, action)`` for everything the slice views respond to, for a help panel."""
    from viewers.window import PRESETS

    rows = [
        ("Left click / left drag", "move the cursor (all linked views follow)"),
        ("Right drag, or Ctrl + left drag", "window/level: horizontal = width, vertical = level"),
        ("Middle drag", "pan"),
        ("Mouse wheel", "next/previous slice"),
        ("Ctrl + mouse wheel", "zoom about the pointer"),
        ("Up / Right arrow", "next slice (towards S, P or L)"),
        ("Down / Left arrow", "previous slice"),
        ("Page Up / Page Down", f"{PAGE_SLICES} slices forward / back"),
        ("Home / End", "first / last slice"),
        ("+ (or =) / -", "zoom in / out"),
        ("R", "reset zoom and pan"),
        ("I", "invert grey levels"),
        ("A", "automatic window (1st–99th percentile of nonzero voxels)"),
        ("[ / ]", "previous / next volume of a 4D series (DWI, fMRI)"),
    ]
    rows += [
        (str(n), f"window preset: {p.name} ({p.description})") for n, p in enumerate(PRESETS, 1)
    ]
    rows += [
        ("Left drag (brush / eraser)", "paint / erase the active lesion label"),
        ("Alt + - / Alt + =", "brush: smaller / larger radius"),
        ("Shift + mouse wheel", "brush radius, or grow tolerance (the preview follows)"),
        ("Left click (polygon)", "add a corner; click the first corner or right click to fill"),
        ("Left click (grow)", "preview the region grown from the clicked point"),
        ("Enter", "apply the grow preview (polygon: close and fill)"),
        ("Escape", "cancel the grow preview or the open polygon"),
        ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo the last edit (one brush drag is one step)"),
    ]
    return rows
