"""Recording: per-step aggregates, periodic spatial snapshots, and the run-folder writer.

Run folder layout (all files written to a temporary name, then renamed; summary.json last, so
a folder without summary.json is not a result):

    .hydra/                      resolved config (written by Hydra)
    timeseries.parquet           one row per arm × recorded day (see `ALSModel.metrics`)
    snapshots/agents.parquet     every K days: arm, day, type, agent_id, x, y, state, value
    snapshots/fields.npz         `<arm>` arrays (snapshot, field, y, x) float32, `<arm>_days`,
                                 `field_names`, `field_units`, `voxel_um`
    uncertainty.parquet          only with uncertainty.mode=posterior: one row per draw × individual (sim/uncertainty.py)
    manifest.json                sha256 and size of each file above and of summary.json (sim/manifest.py)
    summary.json                 per-arm outcomes, paired effect, provenance, non_clinical: true

Snapshots are either kept in memory (`Recorder(..., spool_dir=None)`, for library use and tests) or,
as the command line does, streamed to a spool as they are taken: agent columns as an Arrow IPC stream
and field frames as raw float32, one file each per arm. `write_run_folder` then copies the spools into
the final files piece by piece, so a run's memory does not grow with the number of snapshots. Both
ways give the same files, byte for byte.
"""
from __future__ import annotations

import dataclasses

import io
import itertools
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.agents import microglia as mg
from sim import manifest
from sim.agents import msc as msc_mod
from sim.fields import FIELD_NAMES, FIELD_SPECS

SNAPSHOT_COLUMNS = ("arm", "day", "type", "agent_id", "x", "y", "state", "value")
AGENTS_SCHEMA = pa.schema([("arm", pa.large_string()), ("day", pa.float64()), ("type", pa.large_string()),
                           ("agent_id", pa.int64()), ("x", pa.float64()), ("y", pa.float64()),
                           ("state", pa.large_string()), ("value", pa.float64())])
ROW_GROUP_ROWS = 2**16  # rows per row group of agents.parquet (bounds the memory of writing it)
COPY_CHUNK_BYTES = 2**22  # field frames are copied into fields.npz in pieces of this size
_NEURON_STATES = np.array(["dead", "alive"], dtype=object)
_MICROGLIA_STATES = np.array(mg.STATE_NAMES, dtype=object)
_MSC_COMPARTMENTS = np.array(msc_mod.COMPARTMENTS, dtype=object)


@dataclass
class SnapshotSpool:
    """Where one arm's snapshots were streamed: agent columns (Arrow IPC stream) and field frames (raw float32)."""

    agents_path: Path
    fields_path: Path
    frame_shape: tuple[int, ...]
    frames: int = 0


@dataclass
class ArmRecord:
    """Everything one arm's run produced."""

    arm: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    agent_batches: list[pa.RecordBatch] = field(default_factory=list)  # in memory (no spool)
    field_frames: list[np.ndarray] = field(default_factory=list)  # in memory (no spool)
    snapshot_days: list[float] = field(default_factory=list)
    death_days: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_neurons: int = 0
    infusion_days: list[float] = field(default_factory=list)
    individual: dict[str, float] = field(default_factory=dict)  # the virtual individual's multipliers
    spool: SnapshotSpool | None = None

    @property
    def agent_rows(self) -> list[tuple]:
        """Agent snapshot rows as tuples in SNAPSHOT_COLUMNS order (NaN position for MSCs outside the tissue)."""
        rows: list[tuple] = []
        for batch in iter_agent_batches([self]):
            cols = batch.to_pydict()
            for x in ("x", "y"):
                cols[x] = [np.nan if v is None else v for v in cols[x]]
            rows.extend(zip(*(cols[c] for c in SNAPSHOT_COLUMNS)))
        return rows


def agent_batch(model, arm: str, day: float) -> pa.RecordBatch:
    """One snapshot of every agent (motor neurons, microglia, Tregs, MSCs, in that order) as Arrow columns."""
    parts: list[tuple[str, list, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    n = model.neuron_store
    parts.append(("motor_neuron", n.owners, n["x"], n["y"], _NEURON_STATES[n["alive"].astype(np.intp)], n["health"]))
    s = model.microglia_store
    parts.append(("microglia", s.owners, s["x"], s["y"], _MICROGLIA_STATES[s["state"].astype(np.intp)], np.ones(len(s))))
    t = model.treg_store
    parts.append(("treg", t.owners, t["x"], t["y"], np.full(len(t), "tissue", dtype=object), np.ones(len(t))))
    ms = model.msc_store
    inside = ms["compartment"] == msc_mod.TISSUE
    parts.append(("msc", ms.owners, np.where(inside, ms["x"], np.nan), np.where(inside, ms["y"], np.nan),
                  _MSC_COMPARTMENTS[ms["compartment"].astype(np.intp)], ms["cells"].astype(float)))
    count = sum(len(p[1]) for p in parts)
    types = np.concatenate([np.full(len(p[1]), p[0], dtype=object) for p in parts])
    ids = np.fromiter((a.unique_id for p in parts for a in p[1]), dtype=np.int64, count=count)
    columns = [
        pa.array(np.full(count, arm, dtype=object), pa.large_string()),
        pa.array(np.full(count, day, dtype=np.float64)),
        pa.array(types, pa.large_string()),
        pa.array(ids, pa.int64()),
        pa.array(np.concatenate([p[2] for p in parts]).astype(np.float64), pa.float64(), from_pandas=True),  # NaN → null
        pa.array(np.concatenate([p[3] for p in parts]).astype(np.float64), pa.float64(), from_pandas=True),
        pa.array(np.concatenate([p[4] for p in parts]), pa.large_string()),
        pa.array(np.concatenate([p[5] for p in parts]).astype(np.float64), pa.float64(), from_pandas=True),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=AGENTS_SCHEMA)


class Recorder:
    """Samples a model: a metrics row every `record_every` steps, a snapshot every `snapshot_every` steps.

    With `spool_dir`, snapshots go to files there as they are taken (call `finish`, or `close` on failure).
    """

    def __init__(self, model, record_every: int, snapshot_every: int, spool_dir: Path | None = None, snapshots: bool = True):
        self.model = model
        self.snapshots = snapshots
        self.record_every = max(1, record_every)
        self.snapshot_every = max(1, snapshot_every)
        self.out = ArmRecord(model.arm, n_neurons=model.n_neurons)
        self._fields_file = self._agents_sink = self._agents_writer = None
        if spool_dir is not None:
            spool_dir = Path(spool_dir)
            spool_dir.mkdir(parents=True, exist_ok=True)
            self.out.spool = SnapshotSpool(spool_dir / f"{model.arm}.agents.arrows", spool_dir / f"{model.arm}.fields.f32",
                                           (len(FIELD_NAMES), *model.shape))
            self._fields_file = open(self.out.spool.fields_path, "wb")
            self._agents_sink = pa.OSFile(str(self.out.spool.agents_path), "wb")
            self._agents_writer = pa.ipc.new_stream(self._agents_sink, AGENTS_SCHEMA)

    def observe(self, step: int, final: bool = False) -> None:
        if step % self.record_every == 0 or final:
            self.out.rows.append(self.model.metrics())
        if self.snapshots and (step % self.snapshot_every == 0 or final):
            self.snapshot()

    def snapshot(self) -> None:
        m, out = self.model, self.out
        day = round(m.day, 6)
        if out.snapshot_days and out.snapshot_days[-1] == day:
            return
        out.snapshot_days.append(day)
        frame = m.solver.values.astype(np.float32)
        batch = agent_batch(m, m.arm, day)
        if out.spool is None:
            out.field_frames.append(frame)
            out.agent_batches.append(batch)
        else:
            self._fields_file.write(frame.tobytes())
            self._agents_writer.write_batch(batch)
            out.spool.frames += 1

    def close(self) -> None:
        """Close the spool files (idempotent)."""
        if self._agents_writer is not None:
            self._agents_writer.close()
            self._agents_sink.close()
            self._fields_file.close()
            self._fields_file = self._agents_sink = self._agents_writer = None

    def finish(self) -> ArmRecord:
        self.close()
        n = self.model.neuron_store
        self.out.death_days = np.sort(n["death_day"][~n["alive"]])
        self.out.infusion_days = list(self.model.infusions_given)
        self.out.individual = dataclasses.asdict(self.model.individual)
        return self.out


def iter_agent_batches(records: list[ArmRecord]) -> Iterator[pa.RecordBatch]:
    """Every arm's agent snapshot batches, in order, from memory or read back from the spool one at a time."""
    for r in records:
        if r.spool is None:
            yield from r.agent_batches
        else:
            with pa.OSFile(str(r.spool.agents_path), "rb") as source:
                yield from pa.ipc.open_stream(source)


def iter_field_bytes(r: ArmRecord) -> Iterator[bytes]:
    """One arm's field frames as float32 bytes in (snapshot, field, y, x) C order, in pieces."""
    if r.spool is None:
        for frame in r.field_frames:
            yield np.ascontiguousarray(frame, dtype=np.float32).tobytes()
        return
    with open(r.spool.fields_path, "rb") as f:
        while chunk := f.read(COPY_CHUNK_BYTES):
            yield chunk


def field_frames_shape(r: ArmRecord) -> tuple[int, ...]:
    if r.spool is None:
        return (len(r.field_frames), *r.field_frames[0].shape)
    return (r.spool.frames, *r.spool.frame_shape)


# --------------------------------------------------------------------------- writing
def nearest_existing(path: Path) -> Path:
    """`path` itself if it exists, else its closest existing ancestor (a path under a regular file does not exist)."""
    existing = Path(path).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file atomically (temporary sibling, then rename)."""
    _atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write `data` as indented JSON atomically; NumPy scalars are written as the plain numbers they hold."""
    write_text_atomic(path, json.dumps(data, indent=1, default=_plain) + "\n")


def _plain(x: Any) -> Any:
    if isinstance(x, np.floating | np.integer):
        return x.item()
    if isinstance(x, np.bool_):
        return bool(x)
    raise TypeError(type(x).__name__)


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
    """All agent snapshots as one DataFrame (in memory; the run folder is written without building it)."""
    frame = pd.DataFrame([row for r in records for row in r.agent_rows], columns=list(SNAPSHOT_COLUMNS))
    return frame.astype({"arm": "string", "type": "string", "state": "string", "agent_id": "int64",
                         "day": "float64", "x": "float64", "y": "float64", "value": "float64"})


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    _atomic(path, lambda p: pq.write_table(table, p, compression="zstd"))


def _write_agents_parquet(records: list[ArmRecord], path: Path) -> None:
    """Agent snapshots of every arm in row groups of ROW_GROUP_ROWS rows, holding at most one row group."""

    def write(p: Path) -> None:
        # Each row group is written from one contiguous table, as `pq.write_table` of a pandas frame would.
        with pq.ParquetWriter(p, AGENTS_SCHEMA, compression="zstd") as writer:
            pending: list[pa.RecordBatch] = []
            rows, written = 0, False
            for batch in iter_agent_batches(records):
                pending.append(batch)
                rows += batch.num_rows
                while rows >= ROW_GROUP_ROWS:
                    table = pa.Table.from_batches(pending, AGENTS_SCHEMA)
                    writer.write_table(table.slice(0, ROW_GROUP_ROWS).combine_chunks(), row_group_size=ROW_GROUP_ROWS)
                    rest = table.slice(ROW_GROUP_ROWS).combine_chunks()
                    pending, rows, written = rest.to_batches(), rest.num_rows, True
            if rows or not written:
                writer.write_table(pa.Table.from_batches(pending, AGENTS_SCHEMA).combine_chunks(), row_group_size=ROW_GROUP_ROWS)

    _atomic(path, write)


def _npz_entry(zf: zipfile.ZipFile, key: str, pieces: Iterable[bytes], size: int) -> None:
    """One `<key>.npy` member (deflated, fixed timestamp) written piece by piece.

    Deflate's output does not depend on how its input is split, so the member's bytes equal those of
    `writestr` with the whole content at once.
    """
    info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = size  # known up front, as with writestr (decides the zip64 header the same way)
    with zf.open(info, mode="w") as dest:
        for piece in pieces:
            dest.write(piece)


def _npy_header(shape: tuple[int, ...], dtype) -> bytes:
    """The .npy header `np.save` would write for a C-ordered array of this shape and dtype."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(np.broadcast_to(np.zeros((), dtype), shape)))
    return buf.getvalue()


def _write_fields_npz(path: Path, records: list[ArmRecord], voxel_um: float) -> None:
    """Like numpy.savez_compressed, but with fixed zip timestamps (equal runs give equal bytes) and frames streamed."""
    small: dict[str, np.ndarray] = {"field_names": np.array(FIELD_NAMES), "field_units": np.array([s.unit for s in FIELD_SPECS]),
                                    "voxel_um": np.array(voxel_um)}

    def array_entry(zf: zipfile.ZipFile, key: str, arr: np.ndarray) -> None:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
        _npz_entry(zf, key, [buf.getvalue()], buf.tell())

    def write(p: Path) -> None:
        with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for key, arr in small.items():
                array_entry(zf, key, arr)
            for r in records:
                shape = field_frames_shape(r)
                header = _npy_header(shape, np.float32)
                _npz_entry(zf, r.arm, itertools.chain([header], iter_field_bytes(r)), len(header) + 4 * int(np.prod(shape)))
                array_entry(zf, f"{r.arm}_days", np.array(r.snapshot_days))

    _atomic(path, write)


RESULT_FILES = ("timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz", "manifest.json", "summary.json")
# Files only some runs write (a posterior run's draws × individuals table, sim/uncertainty.py); listed in the manifest
# when written, so they are checked like the others.
OPTIONAL_FILES = ("uncertainty.parquet",)


def write_run_folder(out_dir: Path, records: list[ArmRecord], summary: dict, voxel_um: float,
                     extra: dict[str, pd.DataFrame] | None = None) -> None:
    """Write every result file of one paired run (and the `extra` tables, by file name: one of OPTIONAL_FILES);
    summary.json last marks the folder complete.

    All or nothing: if any write fails (disk full, folder not writable), the result files are removed again
    and the error is raised, so the folder never holds part of a result. A summary.json (or optional file) already in
    the folder is removed first, since it would no longer describe the files next to it. Other folders are never touched.
    """
    out_dir = Path(out_dir)
    extra = extra or {}
    if unknown := [name for name in extra if name not in OPTIONAL_FILES]:
        raise ValueError(f"extra: {unknown[0]} is not a run-folder file; allowed are {', '.join(OPTIONAL_FILES)}")
    text = json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n"  # fails before any file is written
    (out_dir / "summary.json").unlink(missing_ok=True)
    for rel in OPTIONAL_FILES:
        (out_dir / rel).unlink(missing_ok=True)
    try:
        _write_parquet(timeseries_frame(records), out_dir / "timeseries.parquet")
        _write_agents_parquet(records, out_dir / "snapshots" / "agents.parquet")
        _write_fields_npz(out_dir / "snapshots" / "fields.npz", records, voxel_um)
        for name, frame in extra.items():
            _write_parquet(frame, out_dir / name)
        # the manifest also holds summary.json's hash (its text is fixed above), so edits to it are caught
        write_text_atomic(out_dir / "manifest.json", manifest.manifest_text(out_dir, text, tuple(extra)))
        write_text_atomic(out_dir / "summary.json", text)
    except BaseException:
        for rel in (*RESULT_FILES, *extra):
            try:
                (out_dir / rel).unlink(missing_ok=True)
            except OSError:
                pass
        raise
