"""File → Intake site package…: check a site's folder, then take it in as a new case.

The work is :func:`workbench.services.intake.check_package` (Validate: everything but the
write) and :func:`workbench.services.intake.intake` (Intake: all or nothing). Like the image
import (:mod:`workbench.ui.import_dialog`), it runs on a worker thread (the images are parsed
in the sandbox process), shows its progress and can be cancelled; a cancelled or refused
intake leaves nothing behind. Every problem of a refused package is listed with its file,
line and field, so a coordinator can tell the site exactly what to fix. After a successful
intake the dialog emits :attr:`IntakeDialog.taken_in` and the main window opens the new case,
where readers are assigned.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PyQt6.QtCore import QCoreApplication, QObject, Qt, QThread, pyqtSignal
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.errors import RegistryError
from workbench.services import Actor, Registry
from workbench.services.intake import (
    ImportCancelledError,
    IntakeCheck,
    IntakeResult,
    PackageError,
    ParserSandbox,
    Problem,
    check_package,
    intake,
)

COLUMNS = ("File", "Line", "Field", "Problem")


class _IntakeWorker(QObject):
    """Runs one check or intake on a thread and reports through signals."""

    progress = pyqtSignal(str, float)
    checked = pyqtSignal(object)
    """An :class:`IntakeCheck` (with or without problems)."""
    taken_in = pyqtSignal(object)
    """An :class:`IntakeResult`."""
    refused = pyqtSignal(object)
    """The problems (a tuple of :class:`Problem`) of a refused intake."""
    failed = pyqtSignal(str)
    finished = pyqtSignal()

    def __init__(
        self,
        registry: Registry,
        actor: Actor,
        path: Path,
        cache_root: Path,
        sandbox: ParserSandbox | None,
        cancel: threading.Event,
        *,
        write: bool,
    ) -> None:
        super().__init__()
        self._args = (registry, actor, path, cache_root, sandbox)
        self._cancel = cancel
        self._write = write

    def run(self) -> None:
        """Do the work; emit one result signal, then ``finished``."""
        registry, actor, path, cache_root, sandbox = self._args
        report = self.progress.emit
        try:
            if self._write:
                result = intake(
                    registry, actor, path, cache_root=cache_root, sandbox=sandbox,
                    progress=report, cancel=self._cancel.is_set,
                )  # fmt: skip
                self.taken_in.emit(result)
            else:
                check = check_package(
                    registry, actor, path, sandbox=sandbox, progress=report,
                    cancel=self._cancel.is_set,
                )  # fmt: skip
                self.checked.emit(check)
        except PackageError as exc:
            self.refused.emit(exc.problems)
        except ImportCancelledError:
            self.failed.emit("Cancelled. Nothing was written.")
        except RegistryError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # an unexpected fault must reach the window, not a log
            self.failed.emit(f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            self.finished.emit()


class IntakeDialog(QDialog):
    """Choose a site package folder, validate it, and take it in as a new case."""

    taken_in = pyqtSignal(str)
    """Emitted with the new case's registry id after a successful intake."""

    def __init__(
        self,
        registry: Registry,
        actor: Actor,
        cache_root: Path,
        *,
        sandbox: ParserSandbox | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.actor = actor
        self.cache_root = cache_root
        self.sandbox = sandbox
        self.cancel_requested = threading.Event()
        self.check: IntakeCheck | None = None
        self.intake_result: IntakeResult | None = None
        self.problems: tuple[Problem, ...] = ()
        self.error: str | None = None
        self._thread: QThread | None = None
        self._worker: _IntakeWorker | None = None
        self.setWindowTitle("Intake site package")

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("The site package folder (with its manifest.toml)")
        self.path_edit.textChanged.connect(self._path_changed)
        folder_button = QPushButton("Folder…")
        folder_button.clicked.connect(self._choose_folder)
        self.folder_button = folder_button
        path_row = QHBoxLayout()
        path_row.addWidget(QLabel("Package"))
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(folder_button)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.status_label = QLabel(
            "Validate checks the manifest, the lab file, every image (de-identification) and "
            "the registry, and writes nothing. Intake creates the case with everything in "
            "it, or nothing at all."
        )
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)

        self.problem_table = QTableWidget(0, len(COLUMNS))
        self.problem_table.setHorizontalHeaderLabels(COLUMNS)
        self.problem_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.problem_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.problem_table.setWordWrap(True)
        self.problem_table.setAlternatingRowColors(True)
        vertical = self.problem_table.verticalHeader()
        if vertical is not None:
            vertical.setVisible(False)
        header = self.problem_table.horizontalHeader()
        if header is not None:
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
            header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
            header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
            header.setStretchLastSection(True)
        self.preview_text = QPlainTextEdit()
        self.preview_text.setReadOnly(True)
        self.preview_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details = QStackedWidget()
        self.details.addWidget(self.preview_text)
        self.details.addWidget(self.problem_table)

        self.validate_button = QPushButton("Validate")
        self.intake_button = QPushButton("Intake")
        self.cancel_button = QPushButton("Cancel")
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (
            self.validate_button, self.intake_button, self.cancel_button, self.close_button,
        ):  # fmt: skip
            buttons.addWidget(button)
        self.validate_button.clicked.connect(self.validate)
        self.intake_button.clicked.connect(self.start_intake)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        self.intake_button.setDefault(True)

        layout = QVBoxLayout(self)
        layout.addLayout(path_row)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.details, 1)
        layout.addLayout(buttons)
        self.resize(900, 520)
        self._set_running(False)

    # --- user actions ------------------------------------------------------------------------

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Site package folder")
        if folder:
            self.path_edit.setText(folder)

    def _path_changed(self, _text: str) -> None:
        if not self.running:
            self._set_running(False)

    @property
    def running(self) -> bool:
        """Whether a check or an intake is under way."""
        return self._thread is not None

    def validate(self) -> bool:
        """Check the chosen package (on a worker thread); writes nothing."""
        return self._start(write=False)

    def start_intake(self) -> bool:
        """Take the chosen package in (on a worker thread), all or nothing."""
        return self._start(write=True)

    def _start(self, *, write: bool) -> bool:
        if self.running:
            return False
        text = self.path_edit.text().strip()
        if not text:
            self._show_failure("Choose the site package folder first.")
            return False
        self.intake_result, self.error, self.problems = None, None, ()
        self.problem_table.setRowCount(0)
        self.preview_text.clear()
        self.details.setCurrentWidget(self.preview_text)
        self.progress_bar.setValue(0)
        self.cancel_requested.clear()
        worker = _IntakeWorker(
            self.registry, self.actor, Path(text).expanduser(), self.cache_root, self.sandbox,
            self.cancel_requested, write=write,
        )  # fmt: skip
        thread = QThread(self)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self._progress)
        worker.checked.connect(self._checked)
        worker.taken_in.connect(self._taken_in)
        worker.refused.connect(self._refused)
        worker.failed.connect(self._show_failure)
        # Ended from the worker's thread (quit is thread-safe), so a waiting window is freed.
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)  # type: ignore[call-arg]
        thread.finished.connect(self._thread_done)
        self._thread, self._worker = thread, worker
        self._set_running(True)
        thread.start()
        return True

    def cancel(self) -> None:
        """Ask the running work to stop; nothing of it will be written."""
        if self.running:
            self.cancel_requested.set()
            self.status_label.setText("Cancelling…")

    # --- worker results ------------------------------------------------------------------------

    def _progress(self, text: str, fraction: float) -> None:
        self.progress_bar.setValue(round(fraction * 100))
        self.status_label.setText(f"{text}…")

    def _checked(self, check: IntakeCheck) -> None:
        self.check = check
        if not check.ok:
            self._refused(check.problems)
            return
        assert check.preview is not None
        self.progress_bar.setValue(100)
        preview = check.preview
        self.status_label.setText(
            f"The package is valid: Intake creates case {preview.registry_id} with "
            f"{preview.series} series at {len(preview.timepoints)} timepoint(s) and "
            f"{preview.labs} lab result(s). Nothing was written."
        )
        self.preview_text.setPlainText("\n".join(preview.lines()))

    def _taken_in(self, result: IntakeResult) -> None:
        self.intake_result = result
        self.progress_bar.setValue(100)
        missing = (
            f" It misses: {'; '.join(result.missing_for_reading)}."
            if result.missing_for_reading
            else " Assign its readers on its page (Assign readers…)."
        )
        self.status_label.setText(
            f"Created case {result.registry_id} ({result.status.label}) with "
            f"{len(result.series_ids)} series in {result.seconds:.1f} s.{missing}"
        )
        self.preview_text.setPlainText("\n".join(result.preview.lines()))
        self.taken_in.emit(result.registry_id)

    def _refused(self, problems: tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        self.progress_bar.setValue(0)
        self.status_label.setText(
            f"Not taken in: {len(self.problems)} problem(s) in the package, listed below. "
            "Nothing was written; have the site fix them and check again."
        )
        table = self.problem_table
        table.setRowCount(len(self.problems))
        for row, problem in enumerate(self.problems):
            cells = (problem.file, str(problem.line or ""), problem.field, problem.problem)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                table.setItem(row, column, item)
        table.resizeRowsToContents()
        self.details.setCurrentWidget(table)

    def _show_failure(self, message: str) -> None:
        self.error = message
        self.progress_bar.setValue(0)
        self.status_label.setText(f"Not taken in. {message}" if self.running else message)

    def _thread_done(self) -> None:
        if self._thread is not None:
            self._thread.deleteLater()
        if self._worker is not None:
            self._worker.deleteLater()
        self._thread, self._worker = None, None
        self.cancel_requested.clear()
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        has_path = bool(self.path_edit.text().strip())
        done = self.intake_result is not None
        self.path_edit.setEnabled(not running and not done)
        self.folder_button.setEnabled(not running and not done)
        self.validate_button.setEnabled(not running and has_path and not done)
        self.intake_button.setEnabled(not running and has_path and not done)
        self.cancel_button.setEnabled(running)
        self.close_button.setEnabled(not running)

    def wait(self, timeout_ms: int = 120_000) -> bool:
        """Block until the running work ends and its results reached the dialog (events are
        processed meanwhile: the worker's signals arrive as queued events)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while self.running and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.005)
        return not self.running

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 (Qt's name)
        """Closing cancels running work and waits for it to leave nothing behind."""
        if self.running:
            self.cancel()
            self.wait()
        super().closeEvent(event)

    def reject(self) -> None:
        """Close (Escape) while working cancels instead."""
        if self.running:
            self.cancel()
            return
        super().reject()
