"""Finished sweeps under the dashboard's `--results` folder, and the guard that keeps reads inside it.

A sweep is read from what `alsim-compare` wrote (`dataset/runs.parquet`,
`dataset/timeseries.parquet`, `effects.csv`); if those are missing, the same collector and
statistics functions compute them in memory (nothing is written into the results folder).
Every path a request names is resolved (symlinks included) and refused unless it lies under the
results root; a folder holding a symlink that leads outside is refused as a whole.
"""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from sim import figures
from sim.experiments import compare
from sim.experiments.collect import CompareError, build_dataset, check_compatible, discover, drop_duplicates

MAX_LISTED = 200     # sweeps offered in the menu
MAX_DEPTH = 5        # how deep under the root the menu looks
CACHE_SIZE = 4


class PathRefused(Exception):
    """A requested path that is not a folder under the results root (one line, shown in the page)."""


# --------------------------------------------------------------------------- path safety
def is_inside(root: Path, path: Path) -> bool:
    """True if path, with every symlink resolved, is root or lies under it."""
    root, path = Path(root).resolve(), Path(path).resolve()
    return path == root or root in path.parents


def safe_path(root: Path, relative: object) -> Path:
    """The folder `relative` names under root, or PathRefused (absolute, `..` or symlink escapes)."""
    text = "." if relative in (None, "") else relative
    if not isinstance(text, str) or "\x00" in text or len(text) > 1000:
        raise PathRefused("refused: not a valid folder name")
    if Path(text).is_absolute() or text.startswith("~"):
        raise PathRefused(f"refused: {text!r} is an absolute path; give a folder relative to the results folder")
    target = (Path(root) / text).resolve()
    if not is_inside(root, target):
        raise PathRefused(f"refused: {text!r} is outside the results folder")
    if not target.is_dir():
        raise PathRefused(f"{text!r} is not a folder under the results folder")
    return target


def check_no_escape(root: Path, folder: Path) -> None:
    """Refuse a folder that holds a symlink leading outside root (reading through it would leave root)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            if p.is_symlink() and not is_inside(root, p):
                raise PathRefused(f"refused: {p.relative_to(folder)} links outside the results folder")
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]


# --------------------------------------------------------------------------- finding sweeps
def _is_sweep(path: Path, dirnames: list[str], filenames: list[str]) -> bool:
    if "effects.csv" in filenames or "dataset" in dirnames:
        return True
    return "summary.json" not in filenames and any((path / d / "summary.json").is_file() for d in dirnames)


def list_sweeps(root: Path) -> list[str]:
    """Folders under root (relative, root itself as '.') that hold a comparison or run folders."""
    root = Path(root).resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "dataset"
                             and not (here / d).is_symlink() and depth < MAX_DEPTH)
        if _is_sweep(here, dirnames, filenames):
            found.append(here.relative_to(root).as_posix())
        if len(found) >= MAX_LISTED:
            break
    return found


# --------------------------------------------------------------------------- loading
@dataclass
class Sweep:
    """A finished sweep: runs, timeseries and effects tables, and which columns define a scenario."""

    folder: Path
    runs: pd.DataFrame
    timeseries: pd.DataFrame
    effects: pd.DataFrame
    scenario_cols: list[str]
    source: str  # where the tables came from, said in the page

    @property
    def facet_cols(self) -> list[str]:
        return figures.varying(self.effects, [c for c in self.scenario_cols if c not in (figures.DOSE, figures.START)])

    @property
    def noise_band(self) -> float | None:
        bands = self.effects["noise_band_days"].dropna().unique() if len(self.effects) else []
        return float(bands[0]) if len(bands) == 1 and len(self.effects["noise_band_days"].dropna()) == len(self.effects) else None

    def heatmap(self):
        return figures.delay_heatmap(self.effects, self.facet_cols)  # the fixed scale of every report


def _from_compare_output(folder: Path) -> Sweep:
    runs = pd.read_parquet(folder / "dataset" / "runs.parquet")
    meta = pq.read_schema(folder / "dataset" / "runs.parquet").metadata or {}
    cols = json.loads(meta.get(b"alsim.scenario_columns", b"[]").decode())
    ts = pd.read_parquet(folder / "dataset" / "timeseries.parquet")
    effects = pd.read_csv(folder / "effects.csv", skiprows=1)  # line 1: the notice
    if "contrast" in effects:  # `--contrast` rows follow the scenario rows, in columns of their own
        from sim.experiments.contrast import CONTRAST_COLUMNS
        effects = effects[effects["contrast"].isna()].drop(columns=[c for c in CONTRAST_COLUMNS if c in effects])
    cols = cols or [c for c in effects.columns if c in runs.columns and c not in ("disease", "seed")]
    return Sweep(folder, runs, ts, effects, cols, "read from the alsim-compare output (effects.csv, dataset/)")


def _from_run_folders(root: Path, folder: Path) -> Sweep:
    found, skipped = discover([folder])
    found = [r for r in found if is_inside(root, r.path)]
    if not found:
        raise CompareError(f"no complete runs found under {folder.relative_to(root).as_posix() or '.'}")
    found, dropped = drop_duplicates(found)
    bad = [s for s in skipped + dropped if s.kind in ("corrupt", "conflict")]
    group_by = "disease" if len({r.disease for r in found}) > 1 else None
    check_compatible(found, group_by)
    data = build_dataset(found, group_by)
    paired = compare.per_seed_effects(data.runs, data.scenario_cols)
    effects = compare.effects_table(paired, data.scenario_cols, seed=0, cells=data.uncertainty)
    left_out = f"; {len(bad)} left out as corrupt or conflicting (run alsim-compare to see which)" if bad else ""
    return Sweep(folder, data.runs, data.timeseries, effects, data.scenario_cols,
                 f"computed from {len(found)} run folder(s) (no alsim-compare output there){left_out}")


def _stamp(folder: Path) -> tuple:
    files = [folder / "effects.csv", folder / "dataset" / "runs.parquet", folder / "dataset" / "timeseries.parquet"]
    return tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files) + (folder.stat().st_mtime_ns,)


_cache: OrderedDict[tuple, Sweep] = OrderedDict()
_lock = threading.Lock()


def load_sweep(root: Path, relative: object) -> Sweep:
    """The sweep in `relative` under root; PathRefused for a path outside root, CompareError if no runs."""
    folder = safe_path(root, relative)
    check_no_escape(root, folder)
    key = (str(folder), _stamp(folder))
    with _lock:
        if key in _cache:
            return _cache[key]
    complete = all((folder / f).is_file() for f in ("effects.csv", "dataset/runs.parquet", "dataset/timeseries.parquet"))
    sweep = _from_compare_output(folder) if complete else _from_run_folders(Path(root).resolve(), folder)
    with _lock:
        _cache[key] = sweep
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return sweep


# --------------------------------------------------------------------------- one scenario
def _matches(frame: pd.DataFrame, values: dict) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for col, value in values.items():
        mask &= frame[col].map(figures.fmt_value) == figures.fmt_value(value)
    return mask


def clicked_scenario(sweep: Sweep, click: object) -> dict | None:
    """The scenario (column -> value) of a clicked heatmap cell, or None if the click names none."""
    try:
        point = click["points"][0]  # type: ignore[index]
        x, y, panel = str(point["x"]), str(point["y"]), int(point.get("curveNumber", 0))
    except (TypeError, KeyError, IndexError, ValueError, AttributeError, OverflowError):  # not a click the page makes
        return None
    effects, facets = sweep.effects, sweep.facet_cols
    panels = [p for _, p in effects.groupby(facets, dropna=False, sort=True)] if facets else [effects]
    if not 0 <= panel < len(panels):
        return None
    rows = panels[panel]
    rows = rows[(rows[figures.DOSE].map(figures.fmt_value) == y) & (rows[figures.START].map(figures.fmt_value) == x)]
    if rows.empty:
        return None
    return {c: rows.iloc[0][c] for c in sweep.scenario_cols if c in rows}


def scenario_rows(sweep: Sweep, scenario: dict) -> tuple[pd.Series | None, pd.DataFrame, pd.DataFrame]:
    """The scenario's effects row, its timeseries rows and its runs."""
    cols = {c: v for c, v in scenario.items() if c in sweep.timeseries and c in sweep.runs}
    eff = sweep.effects[_matches(sweep.effects, {c: v for c, v in cols.items() if c in sweep.effects})]
    return (eff.iloc[0] if len(eff) else None, sweep.timeseries[_matches(sweep.timeseries, cols)],
            sweep.runs[_matches(sweep.runs, cols)])


def unavailable(run_id: object) -> str:
    """The one answer for a run that is missing, refused or unreadable: the page never tells them apart, so it
    cannot be used to learn whether a file exists outside the results folder."""
    return f"run {str(run_id)[:80]!r} is not available under the results folder"


def _plain_relative(text: str) -> bool:
    """A run id as alsim-compare writes it: a relative path of plain folder names (no `..`, not absolute)."""
    path = Path(text)
    return bool(text) and not path.is_absolute() and not text.startswith("~") and "\x00" not in text \
        and all(part not in ("..", ".") for part in path.parts)


def _escapes(root: Path, folder: Path) -> bool:
    """True if the folder, or any file or folder in it (symlinks followed), lies outside root."""
    if not is_inside(root, folder):
        return True
    try:
        check_no_escape(root, folder)
    except PathRefused:
        return True
    return False


def run_folder(root: Path, sweep: Sweep, run_id: object) -> Path:
    """The folder of one run of the sweep, by its run_id; refused unless it and every file in it lie under root.

    A refused folder and a missing one get the same message (see `unavailable`).
    """
    rows = sweep.runs[sweep.runs["run_id"].astype(str) == str(run_id)]
    if rows.empty or not _plain_relative(str(run_id)):
        raise PathRefused(unavailable(run_id))
    # run_dir is where alsim-compare found the run; the run id (its path relative to the runs' common
    # parent, usually the sweep folder) still leads there if the results were copied or moved since
    row = rows.iloc[0]
    for p in (sweep.folder / str(row["run_id"]), Path(str(row["run_dir"]))):
        if _escapes(root, p):
            continue
        if (p / "summary.json").is_file():
            return p.resolve()
    raise PathRefused(unavailable(run_id))
