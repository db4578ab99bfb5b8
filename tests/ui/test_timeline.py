"""The case timeline in the window: the view, its export, the case page and the panel's page.

On the demo registry (read only): PML-DEMO-001 has two submitted reads, CSF JCV, antibody
index, lymphocytes, natalizumab, plasma exchange, IRIS and follow-up; PML-DEMO-004 has one
submitted read and rad.berg's draft. Screenshots go to the temporary folder and, for looking
at them, to ``/tmp/shots/timeline_*.png``.
"""

from __future__ import annotations

import gc
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication, QScrollArea
from pytestqt.qtbot import QtBot

from workbench.errors import NotFoundError
from workbench.registry.db import Registry
from workbench.services import cases
from workbench.services import timeline as service
from workbench.services.timeline import CaseTimeline
from workbench.ui.case_page import CasePage
from workbench.ui.main_window import MainWindow
from workbench.ui.panel_view import PanelPage
from workbench.ui.theme import apply_theme
from workbench.ui.timeline import NOTHING_TO_PLOT, TimelineView
from workbench.users import Actor, resolve_actor

SHOTS = Path("/tmp/shots")


@pytest.fixture(autouse=True)
def _collect_canvases(qapp: QApplication) -> Iterator[None]:
    """Let each test's figure canvases finish drawing and be freed before the next test:
    a canvas whose window was closed must not be collected in the middle of another's draw."""
    yield
    qapp.processEvents()
    gc.collect()
    qapp.processEvents()


@pytest.fixture
def demo(demo_registry: tuple[Registry, Path]) -> Registry:
    return demo_registry[0]


def _actor(registry: Registry, username: str) -> Actor:
    with registry.read() as session:
        return resolve_actor(session, username)


def _loader(registry: Registry, actor: Actor) -> Callable[[str], CaseTimeline]:
    return lambda registry_id: service.case_timeline(registry, actor, registry_id)


def _shown(view: TimelineView) -> CaseTimeline | None:
    return view.timeline


def _theme() -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app)


def _save(qtbot: QtBot, widget: object, tmp_path: Path, name: str) -> QImage:
    qtbot.wait(300)  # the canvas draws when the event loop runs
    image = widget.grab().toImage()  # type: ignore[attr-defined]
    assert image.save(str(tmp_path / f"{name}.png"))
    SHOTS.mkdir(exist_ok=True)
    image.save(str(SHOTS / f"{name}.png"))
    return image


def test_the_view_reads_when_shown_and_lists_the_numbers(qtbot: QtBot, demo: Registry) -> None:
    view = TimelineView(_loader(demo, _actor(demo, "tester")))
    qtbot.addWidget(view)
    view.resize(1000, 800)
    view.show_case("PML-DEMO-001")
    assert _shown(view) is None  # hidden: nothing read yet
    view.show()
    qtbot.waitExposed(view)
    timeline = _shown(view)
    assert timeline is not None
    assert timeline.registry_id == "PML-DEMO-001"
    assert view.figure_view.canvas is not None
    assert view.figure_view.export_button.isEnabled()
    rows = view.numbers()
    assert ("CSF JCV PCR", "detected", "+4", "450 copies/mL") in [r[:4] for r in rows]
    volumes = [r for r in rows if r[1].startswith("lesion volume")]
    assert {r[1] for r in volumes} == {"lesion volume, rad.ahmed", "lesion volume, rad.berg"}
    assert ("events", "IRIS onset", "+38") in [r[:3] for r in rows]
    assert len(rows) == len(timeline.rows())
    view.numbers_button.setChecked(False)
    assert not view.table.isVisible()
    view.numbers_button.setChecked(True)
    assert view.table.isVisible()


def test_export_writes_a_valid_png_and_svg(qtbot: QtBot, demo: Registry, tmp_path: Path) -> None:
    view = TimelineView()
    qtbot.addWidget(view)
    view.set_timeline(service.case_timeline(demo, _actor(demo, "tester"), "PML-DEMO-003"))
    png = view.figure_view.export_to(tmp_path / "t.png")
    image = QImage(str(png))
    assert not image.isNull()
    assert image.width() > 600
    assert image.height() > 400
    svg = view.figure_view.export_to(tmp_path / "t.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "detected below LOQ" in svg.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        view.figure_view.export_to(tmp_path / "t.pdf")
    assert not (tmp_path / "t.pdf").exists()


def test_nothing_to_plot_and_a_failed_read_are_said_in_place(qtbot: QtBot) -> None:
    view = TimelineView()
    qtbot.addWidget(view)
    view.set_timeline(CaseTimeline("PML-0001", "first MRI"))
    assert view.figure_view.figure is None
    assert view.figure_view.empty_label.text() == NOTHING_TO_PLOT
    assert not view.figure_view.export_button.isEnabled()
    assert view.numbers() == []

    def refuse(registry_id: str) -> CaseTimeline:
        raise NotFoundError(f"no case {registry_id!r} in this registry")

    view.set_loader(refuse)
    view.show_case("PML-9999")
    assert not view.refresh()
    assert "PML-9999" in view.figure_view.empty_label.text()
    assert view.timeline is None


def test_a_blinded_reader_sees_only_their_own_volumes_on_the_case_page(
    qtbot: QtBot, demo: Registry
) -> None:
    page = CasePage()
    qtbot.addWidget(page)
    berg = _actor(demo, "rad.berg")
    page.set_timeline_loader(_loader(demo, berg))
    detail, _ = cases.load_case(demo, berg, "PML-DEMO-004")
    page.show_case(detail)
    page.show()
    page.show_tab("timeline")
    qtbot.waitUntil(lambda: page.timeline_view.timeline is not None)
    timeline = page.timeline_view.timeline
    assert timeline is not None
    assert {v.reader for v in timeline.volumes} == {"rad.berg"}
    assert "rad.ahmed" not in " ".join(" ".join(r) for r in page.timeline_view.numbers())
    assert "1 of 2" in page.timeline_view.note_label.text()


def test_the_case_page_in_the_window_has_a_timeline_tab(
    qtbot: QtBot, demo: Registry, tmp_path: Path
) -> None:
    actor = _actor(demo, "tester")
    window = MainWindow(demo, actor, quiet=True)
    qtbot.addWidget(window)
    _theme()
    window.resize(1280, 860)
    # What the window's owner wires once (see CasePage.set_timeline_loader).
    window.case_page.set_timeline_loader(_loader(demo, actor))
    window.show()
    qtbot.waitExposed(window)
    assert window.open_case("PML-DEMO-001")
    page = window.case_page
    index = page.tabs.indexOf(page.timeline_view)
    assert page.tabs.tabText(index) == "Timeline"
    page.show_tab("timeline")
    qtbot.waitUntil(lambda: page.timeline_view.timeline is not None)
    assert page.timeline_view.figure_view.canvas is not None
    image = _save(qtbot, window, tmp_path, "timeline_case")
    assert image.width() == window.width()


def test_the_panel_page_shows_the_timeline_with_every_read(
    qtbot: QtBot, demo: Registry, tmp_path: Path
) -> None:
    page = PanelPage(demo, _actor(demo, "panel.dubois"))
    qtbot.addWidget(page)
    _theme()
    page.resize(1280, 900)
    page.show()
    qtbot.waitExposed(page)
    assert page.load("PML-DEMO-001")
    view = page.timeline_view
    qtbot.waitUntil(lambda: view.timeline is not None)
    timeline = view.timeline
    assert timeline is not None
    assert {v.reader for v in timeline.volumes} == {"rad.ahmed", "rad.berg"}
    page.timeline_box.setChecked(False)
    assert not view.isVisible()
    page.timeline_box.setChecked(True)
    assert view.isVisible()
    scroll = page.splitter.widget(0)
    assert isinstance(scroll, QScrollArea)
    qtbot.wait(100)  # the scroll areas take a few rounds of layout requests
    scroll.ensureWidgetVisible(page.timeline_box, 0, 0)
    bar = scroll.verticalScrollBar()
    assert bar is not None
    bar.setValue(page.timeline_box.y() - 10)
    _save(qtbot, page, tmp_path, "timeline_panel")
