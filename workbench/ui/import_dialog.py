"""The "Import images" dialog: gate, load, cache and store in the background, cancellable.

The import itself is :func:`workbench.services.imaging.import_images`; this dialog runs it
on a worker thread (the parsing happens in the sandbox process), shows its progress, lets the user
cancel, and shows any refusal in full inside the dialog. Nothing is written unless the whole
import succeeds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PyQt6.QtCore import QCoreApplication, QObject, Qt, QThread, pyqtSignal
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.errors import RegistryError
from workbench.services import Actor, Registry
from workbench.services.imaging import ImportResult, ParserSandbox, import_images


class _ImportWorker(QObject):
    """Runs one import on a thread and reports through signals."""

    progress = pyqtSignal(str, float)
    succeeded = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(
        self,
        registry: Registry,
        actor: Actor,
        path: Path,
        registry_id: str,
        day: int | None,
        cache_root: Path,
        sandbox: ParserSandbox | None,
        cancel: threading.Event,
    ) -> None:
        super().__init__()
        self._args = (registry, actor, path, registry_id, day, cache_root, sandbox)
        self._cancel = cancel

    def run(self) -> None:
        """Do the import; emit exactly one of ``succeeded`` or ``failed``."""
        registry, actor, path, registry_id, day, cache_root, sandbox = self._args
        try:
            result = import_images(
                registry,
                actor,
                path,
                registry_id,
                day=day,
                cache_root=cache_root,
                sandbox=sandbox,
                progress=lambda text, fraction: self.progress.emit(text, fraction),
                cancelled=self._cancel.is_set,
            )
        except RegistryError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # an unexpected fault must reach the window, not a log
            self.failed.emit(f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(result)


class ImportImagesDialog(QDialog):
    """Import a DICOM folder/file or a NIfTI file into one case."""

    imported = pyqtSignal(str)
    """Emitted with the registry id after a successful import."""

    def __init__(
        self,
        registry: Registry,
        actor: Actor,
        registry_id: str,
        cache_root: Path,
        *,
        sandbox: ParserSandbox | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.actor = actor
        self.registry_id = registry_id
        self.cache_root = cache_root
        self.sandbox = sandbox
        self.cancel_requested = threading.Event()
        self.import_result: ImportResult | None = None
        self.error: str | None = None
        self._thread: QThread | None = None
        self._worker: _ImportWorker | None = None
        self.setWindowTitle(f"Import images into {registry_id}")

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("A DICOM folder or file, or a NIfTI file (.nii, .nii.gz)")
        folder_button = QPushButton("Folder…")
        folder_button.clicked.connect(self._choose_folder)
        file_button = QPushButton("File…")
        file_button.clicked.connect(self._choose_file)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(folder_button)
        path_row.addWidget(file_button)

        self.day_spin = QSpinBox()
        self.day_spin.setRange(-36500, 36500)
        self.day_spin.setSuffix(" days from the index date")
        self.existing_day = QCheckBox("Use the day of a study already in this case (same UID)")
        self.existing_day.toggled.connect(lambda on: self.day_spin.setEnabled(not on))

        form = QFormLayout()
        form.addRow("Images", path_row)
        form.addRow("Timepoint", self.day_spin)
        form.addRow("", self.existing_day)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.status_label = QLabel(
            "Files are checked for identifying data first; nothing is written unless the "
            "whole import succeeds."
        )
        self.status_label.setWordWrap(True)
        self.error_text = QPlainTextEdit()
        self.error_text.setReadOnly(True)
        self.error_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.error_text.setVisible(False)

        self.buttons = QDialogButtonBox()
        self.import_button = QPushButton("Import")
        self.cancel_button = QPushButton("Cancel")
        self.close_button = QPushButton("Close")
        self.buttons.addButton(self.import_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.import_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        self.cancel_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_text, 1)
        layout.addWidget(self.buttons)
        self.resize(760, 320)

    # --- user actions ------------------------------------------------------------------------

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "DICOM folder")
        if folder:
            self.path_edit.setText(folder)

    def _choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Image file", "", "Images (*.nii *.nii.gz *.dcm);;All files (*)"
        )
        if name:
            self.path_edit.setText(name)

    @property
    def running(self) -> bool:
        """Whether an import is under way."""
        return self._thread is not None

    def start(self) -> None:
        """Start the import of the chosen path (on a worker thread)."""
        if self.running:
            return
        text = self.path_edit.text().strip()
        if not text:
            self._show_error("Choose a DICOM folder or file, or a NIfTI file, first.")
            return
        self.import_result, self.error = None, None
        self.error_text.setVisible(False)
        self.progress_bar.setValue(0)
        day = None if self.existing_day.isChecked() else self.day_spin.value()
        self._set_running(True)
        worker = _ImportWorker(
            self.registry, self.actor, Path(text).expanduser(), self.registry_id, day,
            self.cache_root, self.sandbox, self.cancel_requested,
        )  # fmt: skip
        thread = QThread(self)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self._progress)
        worker.succeeded.connect(self._succeeded)
        worker.failed.connect(self._failed)
        worker.succeeded.connect(thread.quit)
        worker.failed.connect(thread.quit)
        thread.finished.connect(self._thread_done)
        self._thread, self._worker = thread, worker
        thread.start()

    def cancel(self) -> None:
        """Ask the running import to stop; nothing of it will be written."""
        if self.running:
            self.cancel_requested.set()
            self.status_label.setText("Cancelling…")

    # --- worker results ------------------------------------------------------------------------

    def _progress(self, text: str, fraction: float) -> None:
        self.progress_bar.setValue(round(fraction * 100))
        self.status_label.setText(f"{text}…")

    def _succeeded(self, result: ImportResult) -> None:
        self.import_result = result
        self.progress_bar.setValue(100)
        kinds = ", ".join(v.sequence_class.value for v in result.volumes)
        self.status_label.setText(
            f"Imported {len(result.series_ids)} series into {result.registry_id} ({kinds}) "
            f"in {result.seconds:.1f} s."
        )
        self.imported.emit(result.registry_id)

    def _failed(self, message: str) -> None:
        self.progress_bar.setValue(0)
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.error = message
        first, _, rest = message.partition("\n")
        self.status_label.setText(f"<b>Not imported.</b> {first}")
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.error_text.setPlainText(message)
        self.error_text.setVisible(bool(rest) or len(first) > 90)

    def _thread_done(self) -> None:
        if self._thread is not None:
            self._thread.deleteLater()
        if self._worker is not None:
            self._worker.deleteLater()
        self._thread, self._worker = None, None
        self.cancel_requested.clear()
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        widgets: tuple[QWidget, ...] = (
            self.path_edit,
            self.day_spin,
            self.existing_day,
            self.import_button,
        )
        for widget in widgets:
            widget.setEnabled(not running)
        if not running and self.existing_day.isChecked():
            self.day_spin.setEnabled(False)
        self.cancel_button.setEnabled(running)
        self.close_button.setEnabled(not running)

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until the running import ends and its results reached the dialog."""
        thread = self._thread
        if thread is None:
            return True
        finished = thread.wait(timeout_ms)
        deadline = time.monotonic() + 5
        # The worker's signals and the thread's "finished" arrive as queued events.
        while self.running and time.monotonic() < deadline:
            QCoreApplication.processEvents()
        return finished and not self.running

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 (Qt's name)
        """Closing cancels a running import and waits for it to leave nothing behind."""
        if self.running:
            self.cancel()
            self.wait()
        super().closeEvent(event)

    def reject(self) -> None:
        """Close (Escape) behaves like closing the window."""
        if self.running:
            self.cancel()
            return
        super().reject()
