"""Recording: per-step aggregates, periodic spatial snapshots, and the run-folder writer.

Run folder layout (all files written to a temporary name, then renamed; summary.json last, so
a folder without summary.json is not a result):

    .hydra/                      resolved config (written by Hydra)
    timeseries.parquet           one row per arm × recorded day (see `ALSModel.metrics`)
    snapshots/agents.parquet     every K days: arm, day, type, agent_id, x, y, state, value
    snapshots/fields.npz         `<arm>` arrays (snapshot, field, y, x) float32, `<arm>_days`,
                                 `field_names`, `field_units`, `voxel_um`
    summary.json                 per-arm outcomes, paired effect, provenance, non_clinical: true
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.agents import microglia as mg
from sim.agents import msc as msc_mod
from sim.fields import FIELD_NAMES, FIELD_SPECS

SNAPSHOT_COLUMNS = ("arm", "day", "type", "agent_id", "x", "y", "state", "value")


@dataclass
class ArmRecord:
    """Everything one arm's run produced."""

    arm: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    agent_rows: list[tuple] = field(default_factory=list)
    field_frames: list[np.ndarray] = field(default_factory=list)
    snapshot_days: list[float] = field(default_factory=list)
    death_days: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_neurons: int = 0
    infusion_days: list[float] = field(default_factory=list)


class Recorder:
    """Samples a model: a metrics row every `record_every` steps, a snapshot every `snapshot_every` steps."""

    def __init__(self, model, record_every: int, snapshot_every: int):
        self.model = model
        self.record_every = max(1, record_every)
        self.snapshot_every = max(1, snapshot_every)
        self.out = ArmRecord(model.arm, n_neurons=model.n_neurons)

    def observe(self, step: int, final: bool = False) -> None:
        if step % self.record_every == 0 or final:
            self.out.rows.append(self.model.metrics())
        if step % self.snapshot_every == 0 or final:
            self.snapshot()

    def snapshot(self) -> None:
        m, out = self.model, self.out
        day = round(m.day, 6)
        if out.snapshot_days and out.snapshot_days[-1] == day:
            return
        out.snapshot_days.append(day)
        out.field_frames.append(m.solver.values.astype(np.float32))
        for a in m.neuron_store.owners:
            out.agent_rows.append((m.arm, day, "motor_neuron", a.unique_id, a.x, a.y, "alive" if a.alive else "dead", a.health))
        s = m.microglia_store
        for a, x, y, st in zip(s.owners, s["x"], s["y"], s["state"]):
            out.agent_rows.append((m.arm, day, "microglia", a.unique_id, x, y, mg.STATE_NAMES[st], 1.0))
        t = m.treg_store
        for a, x, y in zip(t.owners, t["x"], t["y"]):
            out.agent_rows.append((m.arm, day, "treg", a.unique_id, x, y, "tissue", 1.0))
        ms = m.msc_store
        for a, comp, x, y, cells in zip(ms.owners, ms["compartment"], ms["x"], ms["y"], ms["cells"]):
            inside = comp == msc_mod.TISSUE
            out.agent_rows.append((m.arm, day, "msc", a.unique_id, x if inside else np.nan, y if inside else np.nan,
                                   msc_mod.COMPARTMENTS[comp], float(cells)))

    def finish(self) -> ArmRecord:
        n = self.model.neuron_store
        self.out.death_days = np.sort(n["death_day"][~n["alive"]])
        self.out.infusion_days = list(self.model.infusions_given)
        return self.out


# --------------------------------------------------------------------------- writing
def _atomic(path: Path, write) -> None:
    """Write via a temporary sibling and rename, so readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def timeseries_frame(records: list[ArmRecord]) -> pd.DataFrame:
    return pd.DataFrame([row for r in records for row in r.rows])


def agents_frame(records: list[ArmRecord]) -> pd.DataFrame:
    frame = pd.DataFrame([row for r in records for row in r.agent_rows], columns=list(SNAPSHOT_COLUMNS))
    return frame.astype({"arm": "string", "type": "string", "state": "string", "agent_id": "int64",
                         "day": "float64", "x": "float64", "y": "float64", "value": "float64"})


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    _atomic(path, lambda p: pq.write_table(table, p, compression="zstd"))


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like numpy.savez_compressed, but with fixed zip timestamps so equal runs give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def write_run_folder(out_dir: Path, records: list[ArmRecord], summary: dict, voxel_um: float) -> None:
    """Write every result file of one paired run; summary.json last marks the folder complete."""
    out_dir = Path(out_dir)
    _write_parquet(timeseries_frame(records), out_dir / "timeseries.parquet")
    _write_parquet(agents_frame(records), out_dir / "snapshots" / "agents.parquet")
    arrays: dict[str, np.ndarray] = {
        "field_names": np.array(FIELD_NAMES), "field_units": np.array([s.unit for s in FIELD_SPECS]),
        "voxel_um": np.array(voxel_um)}
    for r in records:
        arrays[r.arm] = np.stack(r.field_frames)
        arrays[f"{r.arm}_days"] = np.array(r.snapshot_days)

    _atomic(out_dir / "snapshots" / "fields.npz", lambda p: _save_npz(p, arrays))
    text = json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n"
    _atomic(out_dir / "summary.json", lambda p: p.write_text(text, encoding="utf-8"))
