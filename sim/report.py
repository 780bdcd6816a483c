"""`alsim-report RUN_DIR`: a self-contained HTML report of one run, drawn with the dashboard's figures.

    alsim-report outputs/2026-11-25/10-00-00              # writes outputs/…/report.html
    alsim-report RUN_DIR --out report.html --field bdnf   # another file, another field on the tissue map

The page works offline (Plotly is inlined) and shows the non-clinical notice at its top and
bottom. The figures are the same functions the dashboard calls (`RunData.curve_figures`,
`sim.figures.tissue_animation`), so the two never disagree.
"""
from __future__ import annotations

import argparse
import dataclasses
import html
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import sim
from sim import figures, manifest, resources
from sim.dashboard.data import RunData, RunFolderError, load_run_folder
from sim.export import FORMATS, ExportError, browser, write_figures
from sim.page import figure_html, plotly_loader
from sim.recorder import write_text_atomic
from sim.run import summary_table

PROG = "alsim-report"
UNVERIFIED_TEXT = "Unverified run: this folder has no manifest.json (written before manifests existed), so its files could not be checked for edits or corruption."
CSS = """
body { font-family: system-ui, sans-serif; margin: 0 2rem 2rem; color: #222; }
.notice { background: #fff3cd; border: 2px solid #b58900; padding: .8rem 1rem; margin: 1rem 0; font-weight: 600; }
pre { background: #f6f6f6; padding: .8rem; white-space: pre-wrap; }
"""


# The tissue map's animation frames make most of a report's size: every frame holds each arm's whole field
# grid and agents. A long human course has ~600 weekly snapshots (an 18 MB report); a report keeps at most
# this many grid values over all its frames, and never more than MAX_FRAMES frames.
FRAME_VALUE_BUDGET = 150_000
MAX_FRAMES = 60
# Curves: a human course records ~4 000 days per arm; a page plots at most this many of them per arm.
MAX_CURVE_POINTS = 500


def frame_indices(days: list[float], grid_values: int, keep: list[float] = ()) -> list[int]:
    """Snapshot indices shown in the report: evenly spread, always the first, the last and those at `keep` days."""
    n = len(days)
    limit = max(2, min(MAX_FRAMES, FRAME_VALUE_BUDGET // max(1, grid_values)))
    if n <= limit:
        return list(range(n))
    chosen = {round(x) for x in np.linspace(0, n - 1, limit)}
    arr = np.asarray(days)
    chosen |= {int(np.argmin(np.abs(arr - d))) for d in keep}  # the snapshot nearest each infusion
    return sorted(chosen)


def thin_rows(ts: pd.DataFrame, keep_days: list[float] = ()) -> pd.DataFrame:
    """At most MAX_CURVE_POINTS recorded days per arm (evenly spread; the last day and infusion days kept)."""
    days = np.sort(ts["day"].unique())
    if len(days) <= MAX_CURVE_POINTS:
        return ts
    chosen = set(days[np.unique(np.linspace(0, len(days) - 1, MAX_CURVE_POINTS).round().astype(int))])
    chosen |= {days[int(np.argmin(np.abs(days - d)))] for d in keep_days}
    return ts[ts["day"].isin(chosen)].reset_index(drop=True)


def sections(data: RunData, field_name: str = "tnf") -> list[tuple[str, go.Figure]]:
    """The report's figures with their section titles (the HTML report and `--figures` both use them)."""
    data = dataclasses.replace(data, timeseries=thin_rows(data.timeseries, data.infusion_days))
    i = data.field_index(field_name)
    curves = data.curve_figures()
    arms = data.arms
    keep = frame_indices(data.days, len(arms) * int(np.prod(data.fields[arms[0]].shape[2:])), data.infusion_days)
    tissue = figures.tissue_animation({a: data.fields[a][keep, i] for a in arms},
                                      {a: np.asarray(data.snapshot_days[a])[keep] for a in arms},
                                      data.agents, data.field_names[i], data.field_units[i], data.voxel_um)
    shown = "" if len(keep) == len(data.days) else f" ({len(keep)} of {len(data.days)} snapshots)"
    return [("Motor neurons: survival and function in both arms", curves["survival"]),
                (f"The tissue patch over time{shown} (press play, or drag the day slider)", tissue),
                ("Where the infused MSCs go", curves["msc"]),
                ("Microglia by state", curves["microglia"]),
                ("Regulatory T cells", curves["tregs"]),
                ("Mean concentration of each field", curves["fields"])]


def render(data: RunData, field_name: str = "tnf") -> str:
    """The report's HTML text."""
    parts = [f"<h2>{html.escape(t)}</h2>" + figure_html(f) for t, f in sections(data, field_name)]
    notice = f'<div class="notice" role="note">{html.escape(sim.NOTICE)} A teaching and research model only.</div>'
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>alsim run report (non-clinical)</title>", f"<style>{CSS}</style></head><body>", notice,
        "<h1>alsim run report</h1>", f"<p>Run folder: {html.escape(str(data.folder))}</p>",
        *([f'<p class="notice">{UNVERIFIED_TEXT}</p>'] if data.verification == manifest.UNVERIFIED else []),
        f"<pre>{html.escape(summary_table(data.summary))}</pre>",
        "<p>One seed is one virtual individual: the difference between the arms is the modeled effect for it alone. "
        "Compare many seeds (<code>alsim-compare</code>) before reading anything into a difference.</p>",
        *parts, notice, plotly_loader(), "</body></html>"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description="Write a self-contained HTML report of one alsim run. " + sim.NOTICE)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder (holds summary.json)")
    p.add_argument("--out", type=Path, help="the HTML file to write (default: RUN_DIR/report.html)")
    p.add_argument("--field", default="tnf", help="field shown on the tissue map (default tnf; e.g. il10, bdnf, damage)")
    p.add_argument("--figures", choices=FORMATS, help="also write each figure as a file in figures/ next to the report "
                                                     "(the tissue map as its first frame)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out = args.out or args.run_dir / "report.html"
    if args.run_dir.is_dir() and (problem := resources.writable_problem(out, "file")):
        print(f"{PROG}: error: --out={out} is invalid: {problem}", file=sys.stderr)
        raise SystemExit(2)
    try:
        data = load_run_folder(args.run_dir)
    except RunFolderError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.field not in data.field_names:
        print(f"{PROG}: error: --field {args.field} is not one of {', '.join(data.field_names)}", file=sys.stderr)
        raise SystemExit(2)
    if data.verification == manifest.UNVERIFIED:
        print(f"{PROG}: warning: {UNVERIFIED_TEXT}", file=sys.stderr)
    try:
        if args.figures:
            browser()  # refuse before writing anything
    except ExportError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    text = render(data, args.field)
    try:
        write_text_atomic(out, text)
    except OSError as exc:  # disk full, or the folder changed since the check
        print(f"{PROG}: error: could not write {out}: {exc.strerror or exc}; nothing was written", file=sys.stderr)
        raise SystemExit(1) from None
    print(sim.NOTICE)
    print(f"wrote {out}")
    if args.figures:
        try:
            written = write_figures(sections(data, args.field), out.parent / "figures", args.figures)
        except ExportError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        print(*(f"wrote {p}" for p in written), sep="\n")


if __name__ == "__main__":  # pragma: no cover
    main()
