"""Each figure of a report as its own file (`--figures svg|pdf|png` on alsim-report and alsim-compare).

Plotly's static export (Kaleido ≥ 1) draws the figures in a headless Chromium. It uses the system's browser
(BROWSER_PATH, else `chromium`, `chromium-browser`, `google-chrome` on PATH) and never downloads one, so it
works offline; without a browser or without Kaleido the export is refused with one line before anything is
written. An animated figure (the tissue map) is written as its first frame.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import plotly.graph_objects as go

FORMATS = ("svg", "pdf", "png")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ExportError(Exception):
    """The figures cannot be exported here (one line)."""


def browser() -> str:
    """The Chromium the export will drive; ExportError if there is none or Kaleido is missing."""
    try:
        import kaleido  # noqa: F401 - only to know it is installed
    except ImportError:
        raise ExportError("--figures needs the kaleido package (pip install 'kaleido>=1,<2')") from None
    given = os.environ.get("BROWSER_PATH")
    found = given if given and Path(given).is_file() else next(filter(None, map(shutil.which, BROWSERS)), None)
    if not found:
        raise ExportError("--figures needs Chromium or Chrome (set BROWSER_PATH, or install chromium)")
    return found


def file_name(k: int, title: str, fmt: str) -> str:
    """`02-survival-curves-per-scenario.svg`: numbered in report order, named after the section title."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].rstrip("-")
    return f"{k:02d}-{slug or 'figure'}.{fmt}"


def write_figures(figures: list[tuple[str, go.Figure]], folder: Path, fmt: str) -> list[Path]:
    """Write every (title, figure) into folder as `fmt`; returns the paths in order."""
    if fmt not in FORMATS:
        raise ExportError(f"--figures {fmt} is invalid: allowed values are {', '.join(FORMATS)}")
    os.environ.setdefault("BROWSER_PATH", browser())  # Kaleido's browser lookup reads this variable
    import plotly.io as pio

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / file_name(k, title, fmt) for k, (title, _) in enumerate(figures, start=1)]
    still = [go.Figure(fig.data, fig.layout) if fig.frames else fig for _, fig in figures]  # no animation in a file
    try:
        pio.write_images(still, paths, format=fmt)
    except Exception as exc:  # noqa: BLE001 - browser start-up or rendering failures: one line, not a traceback
        raise ExportError(f"figure export failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return paths
