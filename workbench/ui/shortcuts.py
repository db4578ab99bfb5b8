"""The keyboard-shortcut panel (Help → Keyboard shortcuts, F1).

It lists what the slice views respond to (:func:`viewers.interaction.shortcut_help`, the
viewers' own table, so the panel cannot drift from the code) and the window's shortcuts,
which the window collects from its actions (:func:`action_shortcuts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QFont, QKeySequence
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewers.interaction import shortcut_help

Shortcut = tuple[str, str]
"""``(key or gesture, what it does)``."""


def action_shortcuts(actions: Iterable[QAction]) -> list[Shortcut]:
    """``(keys, description)`` of every action with a shortcut, in the order given.

    The keys are in the platform's spelling (``Ctrl+R``; ``⌘R`` on macOS); several
    shortcuts of one action are joined with " or ".
    """
    rows: list[Shortcut] = []
    seen: set[int] = set()
    for action in actions:
        if id(action) in seen:
            continue
        seen.add(id(action))
        keys = [
            s.toString(QKeySequence.SequenceFormat.NativeText)
            for s in action.shortcuts()
            if not s.isEmpty()
        ]
        if not keys:
            continue
        text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        text = text.removesuffix("…").removesuffix("...")
        tip = action.statusTip()
        rows.append((" or ".join(keys), f"{text}: {tip}" if tip and tip != text else text))
    return rows


class ShortcutsDialog(QDialog):
    """A non-modal panel listing the viewport keys and gestures and the window's shortcuts."""

    def __init__(self, window_shortcuts: Sequence[Shortcut], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setModal(False)
        self.resize(900, 680)
        intro = QLabel(
            "Keys act on the viewport under the cursor after a click into it; window "
            "shortcuts work anywhere in the window."
        )
        intro.setObjectName("muted")
        intro.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Key or gesture", "Action"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        assert header is not None
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.viewer_rows = list(shortcut_help())
        self.window_rows = list(window_shortcuts)
        self._section("Viewports (images)", self.viewer_rows)
        self._section("Window", self.window_rows)
        self.tree.expandAll()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)

    def _section(self, title: str, rows: Sequence[Shortcut]) -> None:
        heading = QTreeWidgetItem([title, ""])
        bold = QFont(self.tree.font())
        bold.setBold(True)
        heading.setFont(0, bold)
        heading.setFirstColumnSpanned(True)
        heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.tree.addTopLevelItem(heading)
        for keys, action in rows:
            item = QTreeWidgetItem([keys, action])
            item.setToolTip(1, action)
            self.tree.addTopLevelItem(item)

    @property
    def rows(self) -> list[Shortcut]:
        """Every listed ``(keys, action)``, viewports first."""
        return [*self.viewer_rows, *self.window_rows]
