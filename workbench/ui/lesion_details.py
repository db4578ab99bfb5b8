"""The details form of one lesion: side, location and the PML imaging features (DESIGN §2).

:class:`LesionDetailsForm` sits below the lesion table of the annotation panel and edits the
:class:`~workbench.services.reading.LesionDetails` of the selected lesion: one combo for the
side (the suggestion from the centroid, or the reader's choice), one for the location (none
until the reader picks one: no anatomical suggestion is made, a z threshold would be too
crude) and one per feature of :class:`adjudication.lesions.LesionFeatures`, each "not
assessed" until chosen.
Every change emits :attr:`LesionDetailsForm.edited` with the new details.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QWidget

from adjudication.lesions import (
    ContrastEnhancement,
    DwiPattern,
    Hemisphere,
    LesionFeatures,
    Location,
)
from adjudication.vocabulary import TriState
from workbench.services.reading import LesionDetails

FEATURES: tuple[tuple[str, str, type[StrEnum]], ...] = (
    ("u_fibres", "U-fibres", TriState),
    ("cortical_grey_matter", "Cortical / juxtacortical GM", TriState),
    ("t1_hypointensity", "T1 hypointensity", TriState),
    ("dwi_pattern", "DWI pattern", DwiPattern),
    ("contrast_enhancement", "Contrast enhancement", ContrastEnhancement),
    ("mass_effect", "Mass effect / oedema", TriState),
    ("milky_way", "Milky-way satellites", TriState),
    ("swi_rim", "SWI rim", TriState),
)
"""``(LesionFeatures field, label, vocabulary)`` of each feature combo, in form order."""

FEATURE_NAMES = tuple(name for name, _, _ in FEATURES)
"""The :class:`LesionFeatures` field names the form edits."""


def pretty(value: str) -> str:
    """A vocabulary value as a reader reads it: ``"not_assessed"`` → ``"not assessed"``."""
    return value.replace("_", " ")


def lesion_features(features: Mapping[str, Any]) -> LesionFeatures:
    """The :class:`LesionFeatures` held in a stored feature dict (unknown keys ignored).

    A stored value that is not in its vocabulary falls back to "not assessed".
    """
    known: dict[str, Any] = {}
    for name, _, vocabulary in FEATURES:
        value = features.get(name)
        if value is not None and str(value) in {v.value for v in vocabulary}:
            known[name] = vocabulary(str(value))
    return LesionFeatures(**known)


def _index_of(box: QComboBox, value: StrEnum | str | None) -> int:
    """The index of ``value`` (its text value; None: the first item) in ``box``, else 0."""
    return max(box.findData("" if value is None else str(value)), 0)


class LesionDetailsForm(QGroupBox):
    """Side, location and PML features of the selected lesion (disabled when none is)."""

    edited = pyqtSignal(int, object)
    """``(label, LesionDetails)``: the reader changed the details of lesion ``label``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Selected lesion", parent)
        self.setObjectName("lesionDetails")
        self.label: int | None = None
        self._extra: dict[str, Any] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setVerticalSpacing(2)
        self.side_box = QComboBox()
        self.side_box.setObjectName("lesionSide")
        self.side_box.addItem("suggested", "")
        for side in Hemisphere:
            self.side_box.addItem(pretty(side.value), side.value)
        self.side_box.setToolTip("The side from the centroid, unless you choose one")
        layout.addRow("Side", self.side_box)
        self.location_box = QComboBox()
        self.location_box.setObjectName("lesionLocation")
        self.location_box.addItem("—", "")
        for location in Location:
            self.location_box.addItem(pretty(location.value), location.value)
        layout.addRow("Location", self.location_box)
        self.feature_boxes: dict[str, QComboBox] = {}
        for name, text, vocabulary in FEATURES:
            box = QComboBox()
            box.setObjectName(f"feature_{name}")
            for value in vocabulary:
                box.addItem(pretty(value.value), value.value)
            layout.addRow(text, box)
            self.feature_boxes[name] = box
        for combo in (self.side_box, self.location_box, *self.feature_boxes.values()):
            combo.currentIndexChanged.connect(self._changed)
        self.set_lesion(None, LesionDetails(), None)

    def _boxes(self) -> tuple[QComboBox, ...]:
        return (self.side_box, self.location_box, *self.feature_boxes.values())

    def set_lesion(
        self, label: int | None, details: LesionDetails, suggested: Hemisphere | str | None
    ) -> None:
        """Show ``details`` of lesion ``label`` (None: no lesion selected, form disabled).

        ``suggested`` is the side from the centroid, shown in the side combo's first item.
        """
        self.label = label
        self._extra = {k: v for k, v in details.features.items() if k not in FEATURE_NAMES}
        features = lesion_features(details.features)
        boxes = self._boxes()
        for box in boxes:
            box.blockSignals(True)
        try:
            hint = pretty(str(suggested)) if suggested is not None else "—"
            self.side_box.setItemText(0, f"suggested: {hint}")
            self.side_box.setCurrentIndex(_index_of(self.side_box, details.hemisphere))
            self.location_box.setCurrentIndex(_index_of(self.location_box, details.location))
            for name, box in self.feature_boxes.items():
                box.setCurrentIndex(_index_of(box, getattr(features, name)))
        finally:
            for box in boxes:
                box.blockSignals(False)
        self.setEnabled(label is not None)
        self.setTitle("Selected lesion" if label is None else f"Lesion {label}")

    def details(self) -> LesionDetails:
        """The details the form shows now (other stored keys, e.g. the track, kept)."""
        values: dict[str, Any] = {
            name: vocabulary(str(self.feature_boxes[name].currentData()))
            for name, _, vocabulary in FEATURES
        }
        features = dict(self._extra)
        features.update(LesionFeatures(**values).as_dict())
        side = str(self.side_box.currentData() or "")
        location = str(self.location_box.currentData() or "")
        return LesionDetails(
            hemisphere=Hemisphere(side) if side else None,
            location=Location(location) if location else None,
            features=features,
        )

    def set_choice(self, name: str, value: StrEnum | None) -> None:
        """Choose ``value`` in the combo ``name`` (``"side"``, ``"location"`` or a feature)."""
        box = {"side": self.side_box, "location": self.location_box}.get(name)
        box = box if box is not None else self.feature_boxes[name]
        index = box.findData("" if value is None else str(value))
        if index < 0:
            raise ValueError(f"{name}: {value!r} is not a choice")
        box.setCurrentIndex(index)

    def _changed(self, _index: int) -> None:
        if self.label is not None:
            self.edited.emit(self.label, self.details())
