"""The check that Qt can open a window, made before Qt is loaded (``gui`` and ``demo``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.qt_platform import DEBIAN_PACKAGES, missing_platform_libraries, platform_problem

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux check")


def _qt(tmp_path: Path) -> Path:
    """A folder shaped like PyQt6's Qt6 (empty files: ``ldd`` is faked)."""
    for name in ("lib/libQt6Gui.so.6", "lib/libQt6Widgets.so.6", "lib/libQt6XcbQpa.so.6"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    for name in ("xcb", "offscreen", "wayland"):
        plugin = tmp_path / "plugins" / "platforms" / f"libq{name}.so"
        plugin.parent.mkdir(parents=True, exist_ok=True)
        plugin.touch()
    return tmp_path


def _ldd(missing: dict[str, list[str]]) -> Callable[[Sequence[str]], str]:
    """A fake ``ldd`` that reports ``missing[file name]`` as not found."""

    def run(args: Sequence[str]) -> str:
        name = Path(args[-1]).name
        lines = ["\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x0001)"]
        lines += [f"\t{soname} => not found" for soname in missing.get(name, [])]
        return "\n".join(lines) + "\n"

    return run


@linux_only
def test_the_message_names_the_libraries_and_the_exact_install_line(tmp_path: Path) -> None:
    """The fresh-desktop case of the issue: the xcb plugin lacks libxcb-cursor (loaded at
    run time, so ldd does not see it) and two libraries ldd does see."""
    qt = _qt(tmp_path)
    run = _ldd({"libqxcb.so": ["libxcb-icccm.so.4"], "libQt6XcbQpa.so.6": ["libxcb-keysyms.so.1"]})
    problem = platform_problem({"DISPLAY": ":0"}, qt_dir=qt, run=run, loadable=lambda name: False)
    assert problem is not None
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1" in problem
    assert problem.endswith("sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1")


@linux_only
def test_nothing_missing_is_no_problem_and_offscreen_needs_no_xcb(tmp_path: Path) -> None:
    qt = _qt(tmp_path)
    assert platform_problem({"DISPLAY": ":0"}, qt_dir=qt, run=_ldd({}), loadable=bool) is None
    run = _ldd({"libqxcb.so": ["libxcb-icccm.so.4"]})
    offscreen = {"QT_QPA_PLATFORM": "offscreen"}
    assert platform_problem(offscreen, qt_dir=qt, run=run, loadable=lambda n: False) is None
    assert missing_platform_libraries("offscreen", qt_dir=qt, run=run) == []


@linux_only
def test_a_library_without_a_known_package_is_named_with_how_to_find_it(tmp_path: Path) -> None:
    qt = _qt(tmp_path)
    run = _ldd({"libQt6Gui.so.6": ["libEGL.so.1", "libweird.so.9"]})
    problem = platform_problem({"QT_QPA_PLATFORM": "offscreen"}, qt_dir=qt, run=run)
    assert problem is not None
    assert "sudo apt-get install -y libegl1" in problem
    assert "no package known for libweird.so.9" in problem


@linux_only
def test_no_display_says_what_to_do_instead() -> None:
    problem = platform_problem({})
    assert problem is not None
    assert "neither DISPLAY nor WAYLAND_DISPLAY" in problem
    assert "xvfb-run" in problem
    assert "QT_QPA_PLATFORM=offscreen" in problem


@linux_only
def test_the_real_offscreen_platform_has_what_it_needs() -> None:
    """On this machine, with the real ldd: the tests' own platform is complete."""
    assert platform_problem({"QT_QPA_PLATFORM": "offscreen"}) is None


def test_every_known_library_maps_to_a_debian_package_name() -> None:
    for soname, package in DEBIAN_PACKAGES.items():
        assert ".so." in soname
        assert package == package.lower()
        assert " " not in package


@linux_only
def test_gui_and_demo_refuse_before_loading_qt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without a display the commands exit 1 with the reason; the demo is not even built."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PML_WORKBENCH_DATA", str(tmp_path))
    assert main(["demo"]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("error: no display to open the window on")
    assert out == ""
    assert not any(tmp_path.iterdir())  # nothing built
    assert main(["--db", f"sqlite:///{tmp_path / 'r.sqlite3'}", "gui"]) == 1
    assert "no display" in capsys.readouterr().err
