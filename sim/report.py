"""`alsim-report RUN_DIR`: a self-contained HTML report of one run, drawn with the dashboard's figures.

    alsim-report outputs/2026-11-25/10-00-00              # writes outputs/…/report.html
    alsim-report RUN_DIR --out report.html --field bdnf   # another file, another field on the tissue map

The page works offline (Plotly is inlined) and shows the non-clinical notice at its top and
bottom. The figures are the same functions the dashboard calls (`RunData.curve_figures`,
`sim.figures.tissue_animation`), so the two never disagree.
"""
from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

import plotly.io as pio

import sim
from sim import figures, manifest, resources
from sim.dashboard.data import RunData, RunFolderError, load_run_folder
from sim.recorder import write_text_atomic
from sim.run import summary_table

PROG = "alsim-report"
UNVERIFIED_TEXT = "Unverified run: this folder has no manifest.json (written before manifests existed), so its files could not be checked for edits or corruption."
CSS = """
body { font-family: system-ui, sans-serif; margin: 0 2rem 2rem; color: #222; }
.notice { background: #fff3cd; border: 2px solid #b58900; padding: .8rem 1rem; margin: 1rem 0; font-weight: 600; }
pre { background: #f6f6f6; padding: .8rem; white-space: pre-wrap; }
"""


def render(data: RunData, field_name: str = "tnf") -> str:
    """The report's HTML text."""
    i = data.field_index(field_name)
    curves = data.curve_figures()
    tissue = figures.tissue_animation({a: data.fields[a][:, i] for a in data.arms}, data.snapshot_days, data.agents,
                                      data.field_names[i], data.field_units[i], data.voxel_um)
    sections = [("Motor neurons: survival and function in both arms", curves["survival"]),
                ("The tissue patch over time (press play, or drag the day slider)", tissue),
                ("Where the infused MSCs go", curves["msc"]),
                ("Microglia by state", curves["microglia"]),
                ("Regulatory T cells", curves["tregs"]),
                ("Mean concentration of each field", curves["fields"])]
    parts = [f"<h2>{html.escape(t)}</h2>" + pio.to_html(f, include_plotlyjs=(k == 0), full_html=False, auto_play=False)
             for k, (t, f) in enumerate(sections)]
    notice = f'<div class="notice" role="note">{html.escape(sim.NOTICE)} A teaching and research model only.</div>'
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>alsim run report (non-clinical)</title>", f"<style>{CSS}</style></head><body>", notice,
        "<h1>alsim run report</h1>", f"<p>Run folder: {html.escape(str(data.folder))}</p>",
        *([f'<p class="notice">{UNVERIFIED_TEXT}</p>'] if data.verification == manifest.UNVERIFIED else []),
        f"<pre>{html.escape(summary_table(data.summary))}</pre>",
        "<p>One seed is one virtual individual: the difference between the arms is the modeled effect for it alone. "
        "Compare many seeds (<code>alsim-compare</code>) before reading anything into a difference.</p>",
        *parts, notice, "</body></html>"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description="Write a self-contained HTML report of one alsim run. " + sim.NOTICE)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run folder (holds summary.json)")
    p.add_argument("--out", type=Path, help="the HTML file to write (default: RUN_DIR/report.html)")
    p.add_argument("--field", default="tnf", help="field shown on the tissue map (default tnf; e.g. il10, bdnf, damage)")
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
    text = render(data, args.field)
    try:
        write_text_atomic(out, text)
    except OSError as exc:  # disk full, or the folder changed since the check
        print(f"{PROG}: error: could not write {out}: {exc.strerror or exc}; nothing was written", file=sys.stderr)
        raise SystemExit(1) from None
    print(sim.NOTICE)
    print(f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    main()
