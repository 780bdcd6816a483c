"""Snapshot streaming: runs written through the spool equal in-memory runs byte for byte, hold no snapshots
in memory, leave nothing behind (also when they fail), and keep the documented file format.
"""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim import recorder
from sim.config import SimConfig, validate
from sim.fields import FIELD_NAMES
from sim.run import run_arm, run_to_folder, simulate, summarize

FILES = ("timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz", "manifest.json", "summary.json")


def small_config(**domain) -> SimConfig:
    """A 300 µm patch over days 80–90 with a large infusion on day 82 and a snapshot every 6 hours."""
    cfg = SimConfig()
    cfg.domain.width_um = cfg.domain.height_um = 300.0
    cfg.domain.voxel_um = 25.0
    cfg.domain.snapshot_every_days = 0.25
    cfg.disease.start_day, cfg.disease.horizon_days = 80.0, 90.0
    cfg.treatment.start_day = 82.0
    cfg.treatment.dose_cells_per_kg = 1e8
    for k, v in domain.items():
        setattr(cfg.domain, k, v)
    return validate(cfg)


def files_of(folder):
    return {rel: (folder / rel).read_bytes() for rel in FILES}


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory):
    """The run written from in-memory records (the library path), with tiny row groups and copy pieces."""
    cfg = small_config()
    records = simulate(cfg)
    folder = tmp_path_factory.mktemp("in_memory")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recorder, "ROW_GROUP_ROWS", 500)
        mp.setattr(recorder, "COPY_CHUNK_BYTES", 1000)
        recorder.write_run_folder(folder, records, summarize(cfg, records), cfg.domain.voxel_um)
    return cfg, records, folder


def test_streamed_run_equals_in_memory_run_byte_for_byte(in_memory, tmp_path, monkeypatch):
    cfg, records, folder = in_memory
    monkeypatch.setattr(recorder, "ROW_GROUP_ROWS", 500)
    monkeypatch.setattr(recorder, "COPY_CHUNK_BYTES", 1000)
    out = tmp_path / "run"
    run_to_folder(cfg, out, workers=1)  # (the CLI tests cover arms streamed from two worker processes)
    assert files_of(out) == files_of(folder)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(["snapshots", *FILES])
    meta = pq.ParquetFile(folder / "snapshots" / "agents.parquet").metadata
    assert meta.num_row_groups > 2 and meta.num_rows > 1000  # the row-group split across snapshots and arms is exercised
    assert sum(len(r.agent_rows) for r in records) == meta.num_rows


def test_snapshot_files_hold_every_snapshot(in_memory):
    cfg, records, folder = in_memory
    agents = pq.read_table(folder / "snapshots" / "agents.parquet").to_pandas()
    with np.load(folder / "snapshots" / "fields.npz") as f:
        for r in records:
            np.testing.assert_array_equal(f[r.arm], np.stack(r.field_frames))
            np.testing.assert_array_equal(f[f"{r.arm}_days"], r.snapshot_days)
            assert f[r.arm].shape == (len(r.snapshot_days), len(FIELD_NAMES), 12, 12)
            assert list(agents.loc[agents["arm"] == r.arm, "day"].unique()) == r.snapshot_days
    msc = agents[agents["type"] == "msc"]
    assert len(msc) and msc["x"].isna().any()  # outside the tissue: no position (stored as null, read as NaN)
    assert set(msc.loc[msc["x"].isna(), "state"]) <= {"blood", "lung"}
    assert msc.loc[msc["state"] == "tissue", "x"].notna().all()
    assert agents.loc[agents["type"] != "msc", ["x", "y"]].notna().all().all()


def test_single_row_group_file_is_what_the_pandas_writer_made(in_memory, tmp_path):
    """The documented format (and the bytes) of agents.parquet did not change with streaming."""
    _, records, _ = in_memory
    recorder._write_parquet(recorder.agents_frame(records), tmp_path / "pandas.parquet")
    recorder._write_agents_parquet(records, tmp_path / "arrow.parquet")
    assert (tmp_path / "pandas.parquet").read_bytes() == (tmp_path / "arrow.parquet").read_bytes()


def test_a_spooled_arm_keeps_no_snapshot_in_memory(in_memory, tmp_path):
    cfg, records, _ = in_memory
    r = run_arm(cfg, "treated", spool_dir=tmp_path)
    assert r.field_frames == [] and r.agent_batches == []
    assert r.spool.frames == len(r.snapshot_days) > 20
    frame_bytes = 4 * len(FIELD_NAMES) * 12 * 12
    assert r.spool.fields_path.stat().st_size == r.spool.frames * frame_bytes
    memory = next(x for x in records if x.arm == "treated")
    assert r.snapshot_days == memory.snapshot_days
    assert len(r.agent_rows) == len(memory.agent_rows)  # read back from the spool
    assert all(a == b or (a != a and b != b) for ra, rb in zip(r.agent_rows, memory.agent_rows) for a, b in zip(ra, rb))


def test_a_failing_run_leaves_no_spool_and_no_result(tmp_path, monkeypatch):
    from sim.cohort import Cohort

    cfg = small_config()
    calls = {"n": 0}
    original = Cohort.body

    def failing_step(self, k):
        calls["n"] += 1
        if calls["n"] > 30:
            raise RuntimeError("injected")
        original(self, k)

    monkeypatch.setattr(Cohort, "body", failing_step)
    with pytest.raises(RuntimeError, match="injected"):
        run_to_folder(cfg, tmp_path / "run", workers=1)
    assert [p for p in (tmp_path / "run").rglob("*") if p.is_file()] == []
