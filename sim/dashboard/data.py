"""Read one run folder (the format of `sim.recorder`) into tables the figure functions take."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim import figures, manifest

CACHE_SIZE = 8


class RunFolderError(Exception):
    """A folder that is not a complete, readable run (one line, shown in the page)."""


@dataclass
class RunData:
    """Everything the figures of one paired run need, read from its folder."""

    folder: Path
    summary: dict
    timeseries: pd.DataFrame
    agents: pd.DataFrame
    fields: dict[str, np.ndarray]        # arm -> (snapshot, field, y, x)
    snapshot_days: dict[str, np.ndarray]  # arm -> days
    field_names: list[str]
    field_units: list[str]
    voxel_um: float
    arms: list[str] = field(default_factory=list)
    verification: str = manifest.VERIFIED  # or manifest.UNVERIFIED: no manifest.json (files not checked)

    @property
    def infusion_days(self) -> list[float]:
        return [float(d) for d in (self.summary.get("treatment") or {}).get("infusion_days") or []]

    @property
    def days(self) -> list[float]:
        """Snapshot days (the same for every arm)."""
        return [float(d) for d in self.snapshot_days[self.arms[0]]]

    def field_index(self, name: str) -> int:
        return self.field_names.index(name) if name in self.field_names else 0

    def agents_on(self, day: float) -> pd.DataFrame:
        return self.agents[np.isclose(self.agents["day"], day)]

    def tissue_figure(self, field_name: str, k: int):
        """`figures.tissue_map` of snapshot k, colour scale fixed over all days and arms."""
        k = min(max(int(k), 0), len(self.days) - 1)
        i = self.field_index(field_name)
        zmax = max(float(np.nanmax(self.fields[a][:, i])) for a in self.arms)
        day = self.days[k]
        return figures.tissue_map({a: self.fields[a][k, i] for a in self.arms}, self.agents_on(day), day,
                                  self.field_names[i], self.field_units[i], self.voxel_um, zmax)

    def curve_figures(self) -> dict:
        """The run's curves, by name (the same set in the dashboard and in `alsim-report`)."""
        ts, days = self.timeseries, self.infusion_days
        return {"survival": figures.survival_and_function(ts, days),
                "msc": figures.msc_journey(ts, days),
                "microglia": figures.microglia_curves(ts, days),
                "tregs": figures.treg_curves(ts, days),
                "fields": figures.field_mean_curves(ts, self.field_names, self.field_units, days)}


def _read(folder: Path) -> RunData:
    if not (folder / "summary.json").is_file():
        raise RunFolderError(f"{folder.name}: no summary.json (not a finished run)")
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        if summary.get("non_clinical") is not True:
            raise RunFolderError(f"{folder.name}: summary.json lacks non_clinical: true (not an alsim result)")
        ts = pd.read_parquet(folder / "timeseries.parquet")
        agents = pd.read_parquet(folder / "snapshots" / "agents.parquet")
        with np.load(folder / "snapshots" / "fields.npz", allow_pickle=False) as npz:
            arms = [a for a in ("control", "treated") if a in npz.files]
            fields = {a: np.asarray(npz[a]) for a in arms}
            days = {a: np.asarray(npz[f"{a}_days"]) for a in arms}
            names = [str(x) for x in npz["field_names"]]
            units = [str(x) for x in npz["field_units"]]
            voxel = float(npz["voxel_um"])
    except RunFolderError:
        raise
    except Exception as exc:  # a truncated or foreign file: say which folder, do not crash the page
        raise RunFolderError(f"{folder.name}: cannot read the run folder ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not arms:
        raise RunFolderError(f"{folder.name}: snapshots/fields.npz holds no arm")
    check = manifest.verify(folder)
    if not check.ok:  # never draw an edited or truncated run: the figures would show numbers it did not produce
        raise RunFolderError(f"{folder.name}: corrupt run, not shown ({check.reason})")
    return RunData(folder, summary, ts, agents, fields, days, names, units, voxel, arms, check.status)


_cache: OrderedDict[tuple[str, int], RunData] = OrderedDict()
_lock = threading.Lock()


def load_run_folder(folder: Path | str) -> RunData:
    """Read a finished run folder (cached by path and summary.json's modification time)."""
    folder = Path(folder)
    try:
        key = (str(folder.resolve()), (folder / "summary.json").stat().st_mtime_ns)
    except OSError:
        raise RunFolderError(f"{folder.name}: no summary.json (not a finished run)") from None
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    data = _read(folder)
    with _lock:
        _cache[key] = data
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return data
