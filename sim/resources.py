"""Resource bounds checked before anything is written, and output paths checked before any work.

A run that cannot fit in memory, or would take days, should be refused in one line while the
configuration is validated (so before Hydra creates a run folder), not die hours later. Both
estimates are deliberately simple and on the generous side:

* peak memory = arms running at once × (voxels × BYTES_PER_VOXEL + agents × BYTES_PER_AGENT
  + PROCESS_BYTES); the two arms of a paired run simulate at the same time, so both count (a posterior
  run's further arms add their state, not a process each: they advance in cohorts of the same processes).
  Allowed: half of this machine's physical memory (`os.sysconf`).
* run length = steps × body regions × (STEP_SECONDS + (agents + voxels) × UNIT_SECONDS) per arm,
  summed over arms (a posterior run's draws × individuals arms included, `cohort_arms`); the constants
  were measured on the vectorized engine (~0.8 ms per step on the quick domain, ~1.7 ms on the standard
  one). Allowed: MAX_CPU_HOURS.

`run.allow_large=true` skips both checks (the run may then fail on memory, or take very long).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

BYTES_PER_VOXEL = 8 * 9 * 8  # nine float64 fields and ~8 working copies (spectra, sources, factors)
BYTES_PER_AGENT = 2048  # a Mesa agent object, its columns and its share of the snapshot batches
PROCESS_BYTES = 200 * 2**20  # interpreter, NumPy, SciPy, Mesa in each arm's process
STEP_SECONDS = 5e-4  # fixed cost of one step (rule dispatch, field update call)
UNIT_SECONDS = 5e-7  # cost per agent and per voxel in one step
MAX_CPU_HOURS = 6.0  # the largest preset (human, standard domain) needs ~2 CPU-minutes


def physical_memory_bytes() -> int:
    """Physical memory of this machine (the most a run could ever use)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 2**30


@dataclass(frozen=True)
class Estimate:
    voxels: int
    agents: int
    arms: int
    steps: int
    regions: int
    cohort_arms: int = 0  # a posterior run's further arms (sim/uncertainty.py): in cohorts of the same processes

    @property
    def peak_bytes(self) -> int:
        state = self.voxels * BYTES_PER_VOXEL + self.agents * BYTES_PER_AGENT
        return self.arms * (state + PROCESS_BYTES) + self.cohort_arms * state

    @property
    def cpu_hours(self) -> float:
        per_step = STEP_SECONDS + (self.agents + self.voxels) * UNIT_SECONDS
        return (self.arms + self.cohort_arms) * self.regions * self.steps * per_step / 3600


def estimate(cfg) -> Estimate:
    """What one paired run of `cfg` (a SimConfig) will need."""
    from sim.config import grid_shape

    ny, nx = grid_shape(cfg.domain)
    area_mm2 = cfg.domain.width_um * cfg.domain.height_um / 1e6
    agents = int((cfg.neurons.density_per_mm2 + cfg.microglia.density_per_mm2) * area_mm2)
    d = cfg.disease
    steps = int(round((d.horizon_days - d.start_day) * 24 / d.dt_hours))
    arms = 2 if cfg.treatment.enabled else 1
    return Estimate(ny * nx, agents, arms, steps, d.regions, cohort_arms(cfg))


def cohort_arms(cfg) -> int:
    """Arms a posterior run simulates beyond its paired run: d × m treated and m − 1 control arms (0 otherwise)."""
    u = cfg.uncertainty
    return u.draws * u.individuals + u.individuals - 1 if u.mode == "posterior" else 0


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check(cfg) -> None:
    """Raise ConfigError (one line naming the parameter and the limit) if the run is too large for this machine."""
    from sim.config import ConfigError

    if cfg.run.allow_large:
        return
    e = estimate(cfg)
    limit = physical_memory_bytes() // 2
    if e.peak_bytes > limit:
        raise ConfigError(
            f"domain.width_um={cfg.domain.width_um:g} is invalid: the run needs ~{_gib(e.peak_bytes)} at its peak "
            f"({e.arms} arm(s) at once, each {e.voxels} voxels and {e.agents} agents); allowed is at most {_gib(limit)} "
            f"(half of this machine's memory): shrink domain.width_um/height_um, raise domain.voxel_um, "
            f"or set run.allow_large=true")
    if e.cpu_hours > MAX_CPU_HOURS and e.cohort_arms:
        raise ConfigError(
            f"uncertainty.draws={cfg.uncertainty.draws} is invalid with uncertainty.individuals={cfg.uncertainty.individuals}: "
            f"{e.arms + e.cohort_arms} arms would take ~{e.cpu_hours:.0f} CPU-hours; allowed is at most {MAX_CPU_HOURS:g} "
            "(fewer draws or individuals, a smaller domain, or run.allow_large=true)")
    if e.cpu_hours > MAX_CPU_HOURS:
        raise ConfigError(
            f"disease.dt_hours={cfg.disease.dt_hours:g} is invalid with disease.horizon_days={cfg.disease.horizon_days:g}: "
            f"{e.steps} steps × {e.regions} region(s) × {e.agents} agents per arm would take ~{e.cpu_hours:.0f} CPU-hours; "
            f"allowed is at most {MAX_CPU_HOURS:g} (raise disease.dt_hours, shorten the horizon, or set run.allow_large=true)")


# --------------------------------------------------------------------------- outputs
def writable_problem(target: Path, kind: str = "file") -> str | None:
    """Why `target` (a file or folder to be written) cannot be written, or None; nothing is left behind.

    Tests what will really happen: the nearest existing ancestor must be a folder we can create in
    (permissions, read-only mounts, root or not), and nothing of the wrong kind may stand at the target.
    """
    from sim.recorder import nearest_existing

    target = Path(target)
    if target.exists():
        if kind == "file" and target.is_dir():
            return f"{target} is a folder"
        if kind == "folder" and not target.is_dir():
            return f"{target} is a file"
    existing = nearest_existing(target.parent if kind == "file" else target)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".alsim-write-check-", dir=existing))
    except OSError as exc:
        return f"cannot create files in {existing} ({exc.strerror or type(exc).__name__})"
    if target.exists() and kind == "file" and not os.access(target, os.W_OK):
        return f"{target} is not writable"
    return None
