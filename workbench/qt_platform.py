"""Whether Qt can open a window here, checked before Qt is loaded.

On a fresh Linux desktop Qt's xcb platform plugin aborts the process (no exception to catch)
when a system library it needs is missing, with a message that names the library and not the
package. :func:`missing_platform_libraries` finds those libraries with ``ldd`` on the plugin and
Qt's own libraries, without importing Qt, and :func:`platform_problem` turns them into one
message with the exact ``apt-get install`` line (Debian and Ubuntu package names).

``pml-workbench gui`` and ``demo`` (so also ``make demo``) call :func:`platform_problem` before
they import the window. Off Linux, or without ``ldd``, nothing is checked.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["DEBIAN_PACKAGES", "missing_platform_libraries", "platform_problem"]

DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
}
"""The Debian/Ubuntu package of each shared library Qt's platform plugins need."""

_RUNTIME_ONLY = ("libxcb-cursor.so.0",)
"""Loaded by the xcb plugin at run time (``dlopen``), so ``ldd`` never lists it."""

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)

Runner = Callable[[Sequence[str]], str]


def _ldd(args: Sequence[str]) -> str:
    found = subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=False)
    return found.stdout


def _qt_dir() -> Path | None:
    spec = importlib.util.find_spec("PyQt6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt6"
    return folder if folder.is_dir() else None


def _platform(environ: Mapping[str, str]) -> str:
    """The platform plugin Qt will load: ``QT_QPA_PLATFORM``, else wayland or xcb."""
    chosen = environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip()
    if chosen:
        return chosen
    return "wayland" if environ.get("WAYLAND_DISPLAY") else "xcb"


def _known_to_loader(soname: str) -> bool:
    try:
        listing = subprocess.run(
            ["ldconfig", "-p"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return True  # cannot tell: do not claim it is missing
    return f"{soname} " in listing or f"{soname}\t" in listing


def missing_platform_libraries(
    platform: str,
    *,
    qt_dir: Path | None = None,
    run: Runner | None = None,
    loadable: Callable[[str], bool] | None = None,
) -> list[str]:
    """The shared libraries (sonames) Qt's ``platform`` plugin and Qt's GUI libraries need
    and the system lacks, sorted; empty when nothing is missing or nothing can be checked."""
    qt = qt_dir if qt_dir is not None else _qt_dir()
    if qt is None:
        return []
    if run is None:
        if shutil.which("ldd") is None:
            return []
        run = _ldd
    files = [qt / "lib" / "libQt6Gui.so.6", qt / "lib" / "libQt6Widgets.so.6"]
    plugin = qt / "plugins" / "platforms" / f"libq{platform}.so"
    if plugin.is_file():
        files.append(plugin)
    if platform == "xcb":
        files.append(qt / "lib" / "libQt6XcbQpa.so.6")
    missing: set[str] = set()
    for file in files:
        if file.is_file():
            missing.update(_NOT_FOUND.findall(run(["ldd", str(file)])))
    if platform == "xcb":
        check = loadable if loadable is not None else _known_to_loader
        missing.update(name for name in _RUNTIME_ONLY if not check(name))
    return sorted(missing)


def platform_problem(
    environ: Mapping[str, str] | None = None,
    *,
    qt_dir: Path | None = None,
    run: Runner | None = None,
    loadable: Callable[[str], bool] | None = None,
) -> str | None:
    """Why the window cannot open here, with what to do, or ``None`` when it can (or when
    this is not Linux and nothing is checked)."""
    if not sys.platform.startswith("linux"):
        return None
    env = os.environ if environ is None else environ
    platform = _platform(env)
    if platform in ("xcb", "wayland") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return (
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set). "
            "On a desktop, start it from a terminal of the desktop session; on a server, use "
            "'xvfb-run pml-workbench ...', or QT_QPA_PLATFORM=offscreen with --screenshot FILE"
        )
    missing = missing_platform_libraries(platform, qt_dir=qt_dir, run=run, loadable=loadable)
    if not missing:
        return None
    packages = sorted({DEBIAN_PACKAGES.get(name, "") for name in missing} - {""})
    unknown = [name for name in missing if name not in DEBIAN_PACKAGES]
    text = f"Qt's '{platform}' platform cannot start: the system lacks {', '.join(missing)}."
    if packages:
        text += f" Install them with:\n  sudo apt-get install -y {' '.join(packages)}"
    if unknown:
        text += f"\n(no package known for {', '.join(unknown)}: find it with 'apt-file search')"
    return text
