"""The form a coordinator assigns a case's readers and panel members with.

:func:`workbench.services.cases.assign_choices` says who may be assigned to a case and who
already is (plain values), with the policy's refusal for anyone who may not be (the
coordinator themselves). :class:`AssignDialog` shows them as two checkable lists and hands
the newly ticked usernames to a *save* callback from the window, which calls
:func:`workbench.services.cases.assign` for both roles in one transaction. The services
decide: a refusal (an incomplete case, a user who lost the role) keeps the form open with
the ticks as they were and the message in red, and nothing is written.

Each new assignment is due some days from now: by default the days of ``[worklist]`` in
``review.toml`` (readers and panel apart), or the days given in the form's "Due in" field.
"Suggest" asks the window for :func:`workbench.services.worklist.suggest_assignment` and ticks
the readers it suggests (least loaded first, none of the case's own site); every reader's
open workload, and why the others were not suggested, are shown beside the list.

There is no unassign: an assignment already made is shown ticked and cannot be unticked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from adjudication.vocabulary import Role
from workbench.errors import RegistryError, ValidationError
from workbench.services.cases import AssignChoices, Candidate
from workbench.services.worklist import MAX_DUE_DAYS, AssignmentSuggestion, WorklistRules
from workbench.ui.dialogs import FormDialog
from workbench.ui.theme import ACCENT, BASE, BORDER, MUTED

_ROLE_NAMES = {Role.READER: "reader", Role.PANEL: "panel member"}
_CHECK_STYLE = f"""
QListWidget::item {{ padding: 2px 0; }}
QListWidget::indicator {{
    width: 12px; height: 12px; border: 1px solid #6b7480; border-radius: 2px;
    background: {BASE};
}}
QListWidget::indicator:hover {{ border-color: {ACCENT}; }}
QListWidget::indicator:checked {{ border-color: {ACCENT}; background: {ACCENT}; }}
QListWidget::indicator:disabled {{ border-color: {BORDER}; }}
QListWidget::indicator:checked:disabled {{ border-color: {MUTED}; background: {MUTED}; }}
"""
"""Fusion's dark palette draws no box around an unticked item: outline every box, fill the
ticked ones (blue when newly ticked, grey when already assigned)."""


class AssignDialog(FormDialog):
    """Two checkable lists, readers and panel members, of one case.

    Users already assigned are ticked and disabled; a user assigned (or ticked) in the other
    role is disabled, with a tooltip saying why. Assign (the OK button) hands the newly ticked
    usernames to ``save(readers, panel)`` and emits :attr:`assigned` once saved.
    """

    assigned = pyqtSignal(str, list, list)
    """``(registry id, readers, panel members)`` newly assigned, once written."""

    def __init__(
        self,
        choices: AssignChoices,
        save: Callable[[list[str], list[str], int | None], None],
        parent: QWidget | None = None,
        *,
        suggest: Callable[[], AssignmentSuggestion] | None = None,
        due: WorklistRules | None = None,
    ) -> None:
        super().__init__(f"Assign readers and panel — {choices.registry_id}", parent)
        self.choices = choices
        self._save = save
        self._suggest = suggest
        self.due_rules = due or WorklistRules()
        self.suggestion: AssignmentSuggestion | None = None
        self._notes: dict[str, str] = {}
        """Why a reader was not suggested, by username (after Suggest)."""
        self._updating = False

        heading = QLabel(f"Case <b>{choices.registry_id}</b> · {choices.status.label}")
        self.reader_list = self._list(choices.readers, Role.READER)
        self.panel_list = self._list(choices.panel, Role.PANEL)
        self.count_label = QLabel()
        self.count_label.setWordWrap(True)

        self.suggest_button = QPushButton("Suggest")
        self.suggest_button.setObjectName("suggestButton")
        self.suggest_button.setToolTip(
            "Tick the least loaded readers the case still needs, none of the case's own site"
        )
        self.suggest_button.setEnabled(suggest is not None and choices.refusal is None)
        self.suggest_button.clicked.connect(self.apply_suggestion)
        self.suggestion_label = QLabel()
        self.suggestion_label.setObjectName("suggestion")
        self.suggestion_label.setWordWrap(True)
        self.suggestion_label.hide()
        readers = QGroupBox("Readers")
        readers_layout = QVBoxLayout(readers)
        readers_layout.addWidget(self.reader_list, 1)
        counts = QHBoxLayout()
        counts.addWidget(self.count_label, 1)
        counts.addWidget(self.suggest_button)
        readers_layout.addLayout(counts)
        readers_layout.addWidget(self.suggestion_label)
        panel = QGroupBox("Panel members")
        panel_layout = QVBoxLayout(panel)
        panel_layout.addWidget(self.panel_list, 1)
        self.panel_count_label = QLabel()
        panel_layout.addWidget(self.panel_count_label)
        lists = QHBoxLayout()
        lists.addWidget(readers, 1)
        lists.addWidget(panel, 1)

        self.due_spin = QSpinBox()
        self.due_spin.setObjectName("dueDays")
        self.due_spin.setRange(0, MAX_DUE_DAYS)
        self.due_spin.setSuffix(" days")
        rules = self.due_rules
        self.due_spin.setSpecialValueText(
            f"default (readers {rules.reader_due_days} d, panel {rules.panel_due_days} d)"
        )
        self.due_spin.setToolTip(
            "When the new assignments fall due, counted from today; the default comes from "
            "[worklist] in review.toml"
        )
        self.due_spin.setMinimumWidth(240)
        self.due_label = QLabel()
        self.due_label.setObjectName("muted")
        self.due_spin.valueChanged.connect(self._show_due)
        due_row = QHBoxLayout()
        due_caption = QLabel("Due in:")
        due_caption.setBuddy(self.due_spin)
        due_row.addWidget(due_caption)
        due_row.addWidget(self.due_spin)
        due_row.addWidget(self.due_label, 1)
        self.register_field("due days", self.due_spin)

        hint = QLabel(
            "Tick the users to assign; they are assigned when you press Assign, and the "
            "assignment is kept in the case's history. An assignment cannot be undone here. "
            "Nobody is both reader and panel member of one case."
        )
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        ok.setText("Assign")

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(lists, 1)
        layout.addLayout(due_row)
        layout.addWidget(hint)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.setStyleSheet(_CHECK_STYLE)
        self.resize(760, 420)

        self.reader_list.itemChanged.connect(self._ticked)
        self.panel_list.itemChanged.connect(self._ticked)
        self._ticked()
        self._show_due()

    # --- building ------------------------------------------------------------------------

    def _list(self, candidates: Sequence[Candidate], role: Role) -> QListWidget:
        widget = QListWidget()
        widget.setObjectName(f"{role.value}List")
        widget.setMinimumHeight(140)
        for candidate in candidates:
            item = QListWidgetItem(self._item_text(candidate, role))
            item.setData(Qt.ItemDataRole.UserRole, candidate.username)
            item.setCheckState(
                Qt.CheckState.Checked if role in candidate.assigned else Qt.CheckState.Unchecked
            )
            widget.addItem(item)
        if not candidates:
            empty = QListWidgetItem(f"No active user holds the {role.value} role.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            widget.addItem(empty)
        return widget

    @staticmethod
    def _item_text(candidate: Candidate, role: Role) -> str:
        text = candidate.label
        other = Role.PANEL if role is Role.READER else Role.READER
        if role in candidate.assigned:
            text += " — assigned"
        elif other in candidate.assigned:
            text += " — on the panel" if other is Role.PANEL else " — a reader"
        if not candidate.active:
            text += " (inactive)"
        return text

    # --- state ---------------------------------------------------------------------------

    def _candidates(self, role: Role) -> dict[str, Candidate]:
        pool = self.choices.readers if role is Role.READER else self.choices.panel
        return {c.username: c for c in pool}

    def _items(self, role: Role) -> list[QListWidgetItem]:
        widget = self.reader_list if role is Role.READER else self.panel_list
        items = [widget.item(n) for n in range(widget.count())]
        return [i for i in items if i is not None and i.data(Qt.ItemDataRole.UserRole)]

    def item_of(self, role: Role, username: str) -> QListWidgetItem | None:
        """The list item of ``username`` in the list of ``role``, if it is listed."""
        for item in self._items(role):
            if item.data(Qt.ItemDataRole.UserRole) == username:
                return item
        return None

    def set_ticked(self, role: Role, username: str, ticked: bool = True) -> None:
        """Tick (or untick) ``username`` in the list of ``role``, as a click would."""
        item = self.item_of(role, username)
        if item is None:
            raise KeyError(f"{username} is not offered as {role.value}")
        if not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            raise ValueError(f"{username} cannot be ticked as {role.value}: {item.toolTip()}")
        item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)

    def ticked(self, role: Role) -> list[str]:
        """Usernames ticked in the list of ``role`` and not yet assigned in it."""
        candidates = self._candidates(role)
        names = (
            str(item.data(Qt.ItemDataRole.UserRole))
            for item in self._items(role)
            if item.checkState() == Qt.CheckState.Checked
        )
        return [name for name in names if role not in candidates[name].assigned]

    @property
    def reader_count(self) -> int:
        """Readers the case would have: those assigned and those ticked."""
        return self.choices.readers_assigned + len(self.ticked(Role.READER))

    def _ticked(self, _item: QListWidgetItem | None = None) -> None:
        """Re-derive every item's state from the ticks (guarded: setting flags re-emits)."""
        if self._updating:
            return
        self._updating = True
        try:
            ticked = {role: set(self.ticked(role)) for role in (Role.READER, Role.PANEL)}
            for role in (Role.READER, Role.PANEL):
                other = Role.PANEL if role is Role.READER else Role.READER
                candidates = self._candidates(role)
                for item in self._items(role):
                    name = str(item.data(Qt.ItemDataRole.UserRole))
                    self._set_state(item, candidates[name], role, name in ticked[other])
                    note = self._notes.get(name) if role is Role.READER else None
                    if note and item.flags() & Qt.ItemFlag.ItemIsEnabled:
                        item.setToolTip(f"Not suggested: {note}")
            self._show_counts(len(ticked[Role.READER]), len(ticked[Role.PANEL]))
        finally:
            self._updating = False

    @staticmethod
    def _set_state(
        item: QListWidgetItem, candidate: Candidate, role: Role, ticked_in_other: bool
    ) -> None:
        other = Role.PANEL if role is Role.READER else Role.READER
        enabled = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
        why = ""
        if role in candidate.assigned:
            why = f"Already {_ROLE_NAMES[role]} of this case (an assignment is not undone here)"
        elif candidate.refusal is not None:
            why = candidate.refusal[:1].upper() + candidate.refusal[1:]
        elif other in candidate.assigned:
            why = (
                f"{candidate.display_name} is {_ROLE_NAMES[other]} of this case; nobody is both "
                "reader and panel member of one case"
            )
        elif ticked_in_other and item.checkState() != Qt.CheckState.Checked:
            why = (
                f"Ticked as {_ROLE_NAMES[other]}; nobody is both reader and panel member of "
                "one case (untick it there first)"
            )
        item.setFlags(Qt.ItemFlag.NoItemFlags if why else enabled)
        item.setToolTip(why)

    def _show_counts(self, new_readers: int, new_panel: int) -> None:
        required = self.choices.readers_required
        count = self.reader_count
        text = f"{count} of {required} readers required"
        if new_readers:
            text += f" ({new_readers} ticked)"
        after = self.choices.status_after(new_readers)
        if new_readers and after is not self.choices.status:
            text += f" — Assign moves the case to {after.label}"
        self.count_label.setText(text)
        assigned = sum(1 for c in self.choices.panel if Role.PANEL in c.assigned)
        panel = f"{assigned + new_panel} panel member(s)"
        self.panel_count_label.setText(panel + (f" ({new_panel} ticked)" if new_panel else ""))

    # --- due dates -----------------------------------------------------------------------

    @property
    def due_days(self) -> int | None:
        """The days given in "Due in", or ``None`` for the ``review.toml`` defaults."""
        return self.due_spin.value() or None

    def set_due_days(self, days: int | None) -> None:
        """Fill in "Due in" (``None``: the defaults)."""
        self.due_spin.setValue(days or 0)

    def _show_due(self) -> None:
        today = dt.datetime.now(dt.UTC).date()
        days = self.due_days
        if days is None:
            reader = today + dt.timedelta(days=self.due_rules.reader_due_days)
            panel = today + dt.timedelta(days=self.due_rules.panel_due_days)
            text = f"readers due {reader:%Y-%m-%d}, panel due {panel:%Y-%m-%d}"
        else:
            text = f"due {today + dt.timedelta(days=days):%Y-%m-%d}"
        self.due_label.setText(text)

    # --- suggesting ----------------------------------------------------------------------

    def apply_suggestion(self) -> AssignmentSuggestion | None:
        """Ask for the suggestion, tick the readers it names and say why not the others.

        A refusal (or a registry failure) is shown in the form; nothing is ticked then.
        """
        if self._suggest is None:
            return None
        try:
            suggestion = self._suggest()
        except RegistryError as exc:
            self.show_error(str(exc)[:1].upper() + str(exc)[1:])
            return None
        self.clear_error()
        self.suggestion = suggestion
        self._notes = {r.username: r.excluded for r in suggestion.ranking if r.excluded}
        loads = {r.username: r for r in suggestion.ranking}
        for item in self._items(Role.READER):
            name = str(item.data(Qt.ItemDataRole.UserRole))
            candidate = self._candidates(Role.READER)[name]
            text = self._item_text(candidate, Role.READER)
            if name in loads:
                text += f" · {loads[name].open_reads} open"
                if loads[name].overdue:
                    text += f", {loads[name].overdue} overdue"
            item.setText(text)
        skipped = []
        for name in suggestion.suggested:
            try:
                self.set_ticked(Role.READER, name)
            except (KeyError, ValueError):
                skipped.append(name)
        self._ticked()
        lines = []
        if suggestion.suggested:
            lines.append(
                f"Suggested (fewest open reads, none of site {suggestion.site}): "
                + ", ".join(suggestion.suggested)
            )
        if suggestion.note:
            lines.append(suggestion.note[:1].upper() + suggestion.note[1:])
        if skipped:
            lines.append(f"Not ticked (ticked on the panel here): {', '.join(skipped)}")
        excluded = [f"{name}: {why}" for name, why in self._notes.items()]
        if excluded:
            lines.append("Not suggested — " + "; ".join(excluded))
        self.suggestion_label.setText("\n".join(lines))
        self.suggestion_label.show()
        return suggestion

    # --- saving --------------------------------------------------------------------------

    def submit(self) -> None:
        """Save the newly ticked readers and panel members; refuse when none is ticked."""
        readers, panel = self.ticked(Role.READER), self.ticked(Role.PANEL)
        if not readers and not panel:
            raise ValidationError(
                "assign: tick at least one reader or panel member who is not assigned yet",
                field="readers",
            )
        self._save(readers, panel, self.due_days)
        self.assigned.emit(self.choices.registry_id, readers, panel)
