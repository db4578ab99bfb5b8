"""Looking at and drawing on volumes.

Models here are plain numpy and plain-Python callbacks: view state, reslicing through the
affine, window/level, overlays, linking and drawing tools, all testable without a screen.
``viewers.qt`` turns them into pixels and Qt events into toolkit-neutral events. This package
knows nothing of cases, the registry or adjudication (import-linter enforces it).
"""
