"""Per-user review preferences (layout, protocol, window presets) kept with ``QSettings``.

Several readers may share one workstation, so every key is prefixed by the registry username:
``<user>/review/layout``, ``<user>/review/protocol``, ``<user>/review/link_zoom_pan`` and
``<user>/review/window/<sequence class>``. The store is the INI file of organisation
"PML Registry", application "Workbench" in the user's settings folder (tests move that folder
with ``QSettings.setPath``). It is opened on first use, not when the window is built, so a
window that never opens a review never touches it. Values read back are validated: an unknown
value (from a newer version, or edited by hand) falls back to the default.
"""

from __future__ import annotations

import re

from PyQt6.QtCore import QSettings

from viewers.layout import GridLayout
from viewers.window import PRESETS
from workbench.ui.workspace_data import ReviewProtocol

ORGANISATION = "PML Registry"
APPLICATION = "Workbench"
DEFAULT_LAYOUT = GridLayout.TWO_BY_TWO
DEFAULT_PROTOCOL = ReviewProtocol.HANGING
AUTO_WINDOW = "Auto"
"""The window preset name meaning "the view's automatic window" (1st–99th percentile)."""
WINDOW_PRESET_NAMES: tuple[str, ...] = (AUTO_WINDOW, *(p.name for p in PRESETS))
DEFAULT_WINDOW_PRESETS: dict[str, str] = {
    "FLAIR": "FLAIR",
    "T2": "Brain",
    "T1+Gd": "T1+Gd",
    "DWI": "DWI",
    "ADC": "ADC",
}
"""The preset a sequence class opens with until the user picks another (others: Auto)."""


def _key_part(text: str) -> str:
    """``text`` made safe as one QSettings key segment (no ``/``, ``\\`` or spaces)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text.strip()) or "_"


class ReviewSettings:
    """The review preferences of one user."""

    def __init__(self, username: str, store: QSettings | None = None) -> None:
        self.username = username
        self._prefix = f"{_key_part(username.lower())}/review"
        self._store = store

    @property
    def store(self) -> QSettings:
        """The settings store, opened on first use."""
        if self._store is None:
            self._store = QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION
            )
        return self._store

    def key(self, name: str) -> str:
        """The full key of ``name`` for this user."""
        return f"{self._prefix}/{name}"

    def _get(self, name: str) -> str | None:
        value = self.store.value(self.key(name))
        return None if value is None else str(value)

    def _set(self, name: str, value: str) -> None:
        self.store.setValue(self.key(name), value)
        self.store.sync()

    @property
    def layout(self) -> GridLayout:
        """The last grid layout (default 2×2)."""
        text = self._get("layout")
        try:
            return GridLayout.parse(text) if text else DEFAULT_LAYOUT
        except ValueError:
            return DEFAULT_LAYOUT

    @layout.setter
    def layout(self, layout: GridLayout) -> None:
        self._set("layout", f"{layout.rows}x{layout.columns}")

    @property
    def protocol(self) -> ReviewProtocol:
        """The last hanging protocol (default: hanging)."""
        try:
            return ReviewProtocol(self._get("protocol") or DEFAULT_PROTOCOL)
        except ValueError:
            return DEFAULT_PROTOCOL

    @protocol.setter
    def protocol(self, protocol: ReviewProtocol) -> None:
        self._set("protocol", protocol.value)

    @property
    def link_zoom_pan(self) -> bool:
        """Whether zoom and pan are linked between viewports (default: no)."""
        return (self._get("link_zoom_pan") or "false").lower() == "true"

    @link_zoom_pan.setter
    def link_zoom_pan(self, linked: bool) -> None:
        self._set("link_zoom_pan", "true" if linked else "false")

    def window_preset(self, sequence_class: str) -> str:
        """The window preset name for series of ``sequence_class`` (one of
        :data:`WINDOW_PRESET_NAMES`)."""
        name = self._get(f"window/{_key_part(sequence_class)}")
        if name in WINDOW_PRESET_NAMES:
            return str(name)
        return DEFAULT_WINDOW_PRESETS.get(sequence_class, AUTO_WINDOW)

    def set_window_preset(self, sequence_class: str, name: str) -> None:
        """Remember ``name`` as the window preset of ``sequence_class``."""
        if name not in WINDOW_PRESET_NAMES:
            raise ValueError(f"unknown window preset {name!r}")
        self._set(f"window/{_key_part(sequence_class)}", name)
