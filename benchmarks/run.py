"""alsim benchmark suite: every comparison is a ratio measured side by side in this one process run.

    python benchmarks/run.py                  # full sizes (about 5 minutes on 2 cores)
    python benchmarks/run.py --quick          # smaller sizes (about 2 minutes)
    python benchmarks/run.py --smoke          # seconds; what the test suite runs (its numbers mean nothing)
    python benchmarks/run.py --only engines,fields --out /tmp/bench.json

Sections (`--only` picks some; headline keys of the others are then null):

engines   agent-steps per second of the vectorized rules vs the per-agent Mesa `step()` engine on the
          same model, agents and pre-drawn random numbers (1k, 10k, 50k agents, half motor neurons,
          half microglia): state transitions + health updates, i.e. `ALSModel._neuron_rules` and
          `_microglia_rules` under `engine=vectorized` and `engine=agents`; both must give bit-identical
          health, deaths, damage rates and states.
fields    the production `FieldSolver.step` (nine fields, production D and λ, a 1-hour step) vs explicit
          Euler (5-point Laplacian, zero-flux walls, the largest stable substep, more substeps until the
          error is ≤ 1e-3) at equal accuracy, at 64², 128², 256² (20 µm voxels). Reference for both: the
          analytic solution of the same semi-discrete system (a sum of grid cosine modes, each decaying
          exactly toward its source's steady state); the DCT solver is exact for it. Also the solver's
          time vs a bare `scipy.fft.dctn` + `idctn` pair on the same (9, n, n) stack, and the model's whole
          per-step field work (`_step_fields`: sources, decay update, step, uptake) vs the same floor.
runs      wall time and peak memory of `alsim` (default scenario) and `alsim domain=quick` (both arms),
          each a fresh subprocess; peak memory is the largest process's max RSS (what `/usr/bin/time -v`
          reports) and the sampled peak of the whole process tree; a run with dense snapshots shows the
          peak does not grow with the number of snapshots. A cProfile summary (top 10 functions) of both
          scenarios, simulated in-process with serial arms, is saved beside the JSON.
scaling   time per simulated day vs number of agents (×1, ×4, ×16 the standard densities) and vs
          number of voxels (×1, ×4, ×16: 20, 10, 5 µm voxels) with the fitted log-log exponent.
sweep     the same sweep with 1 vs 2 local joblib workers (`hydra/launcher=parallel`), interleaved, medians of repeats.
cohort    the batched engine (`sim.cohort`) on quick mouse individuals (domain=quick, both arms, snapshots kept in
          memory as a run keeps them): `cohort_speedup` = paired individuals per second of one cohort of 64 vs the
          same individuals one at a time (each arm alone), measured interleaved on one core, medians of repeats
          (the one-at-a-time side times a subset: its rate does not depend on how many); `batched_matches_single`
          = every file of the run folders written from one cohort (seeds, arms, a dose, a knock-out, a
          manipulation) is byte-identical to the folder of each run alone; `cohort_1000_seconds` = wall time of
          1,000 paired quick mouse individuals (time series only, as calibration and inference need) in cohorts
          on all local cores. `transform_floor_large_seconds`: the field transforms alone (timed call by call inside one pass of
          the 64-individual cohort), per individual × the large cohort's size ÷ cores — the part of `cohort_1000_seconds`
          that batching cannot shrink (a plane's transform costs the same in a batch or alone).

Writes benchmarks/results.json (or --out) and <out stem>.profile.txt beside it. Timings are medians of
repeats; on a shared machine compare the ratios, which are measured in the same run.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
SECTIONS = ("engines", "fields", "runs", "scaling", "sweep", "cohort")
HEADLINE_KEYS = ("engine_speedup_10k", "engines_agree", "field_speedup_vs_explicit", "field_time_vs_dct_floor",
                 "agents_scaling_exponent", "voxels_scaling_exponent", "sweep_speedup_2_workers", "cohort_speedup", "batched_matches_single",
                 "cohort_1000_seconds", "quick_run_seconds",
                 "default_run_seconds", "default_run_peak_mb")


@dataclass(frozen=True)
class Sizes:
    """What one mode measures."""

    engine_agents: tuple[int, ...]
    engine_repeats: int
    field_grids: tuple[int, ...]
    field_names: tuple[str, ...] | None  # None: all nine fields
    field_repeats: int
    run_repeats: int
    run_warmup: bool
    run_overrides: tuple[str, ...]  # appended to every whole-run command
    dense_snapshots: bool
    scaling_block_steps: int  # steps timed per block (24 = one day)
    scaling_blocks: int
    scaling_start_day: float
    scaling_base_domain: str
    sweep_runs: int
    sweep_horizon: float
    sweep_start_day: float
    sweep_repeats: int = 3
    cohort_batched: int = 64  # individuals in the batched side of cohort_speedup
    cohort_single: int = 6  # individuals timed one at a time (the rate per individual is what is compared)
    cohort_repeats: int = 3
    cohort_horizon: float = 160.0  # the quick mouse preset's own horizon
    cohort_large: int = 1000  # paired individuals of the all-cores cohort


MODES = {
    "full": Sizes(engine_agents=(1_000, 10_000, 50_000), engine_repeats=5, field_grids=(64, 128, 256), field_names=None,
                  field_repeats=15, run_repeats=3, run_warmup=True, run_overrides=(), dense_snapshots=True,
                  scaling_block_steps=24, scaling_blocks=9, scaling_start_day=95.0, scaling_base_domain="standard",
                  sweep_runs=24, sweep_horizon=160.0, sweep_start_day=90.0),
    "quick": Sizes(engine_agents=(1_000, 10_000), engine_repeats=5, field_grids=(64, 128), field_names=None,
                   field_repeats=11, run_repeats=2, run_warmup=False, run_overrides=(), dense_snapshots=True,
                   scaling_block_steps=24, scaling_blocks=5, scaling_start_day=95.0, scaling_base_domain="standard",
                   sweep_runs=8, sweep_horizon=160.0, sweep_start_day=90.0, sweep_repeats=2,
                   cohort_batched=32, cohort_single=4, cohort_repeats=2, cohort_large=200),
    "smoke": Sizes(engine_agents=(200, 1_000), engine_repeats=2, field_grids=(16, 32), field_names=("tnf", "damage"),
                   field_repeats=3, run_repeats=1, run_warmup=False,
                   run_overrides=("disease.horizon_days=33", "treatment.start_day=31"), dense_snapshots=False,
                   scaling_block_steps=4, scaling_blocks=1, scaling_start_day=95.0, scaling_base_domain="quick",
                   sweep_runs=2, sweep_horizon=32.0, sweep_start_day=31.0, sweep_repeats=1,
                   cohort_batched=4, cohort_single=2, cohort_repeats=1, cohort_horizon=33.0, cohort_large=4),
}


# =========================================================================== helpers
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def median(xs) -> float:
    return float(statistics.median(xs))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import mesa
    import scipy
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem_gb = None
    return {"cores": os.cpu_count(), "cpu_model": cpu_model(), "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "mesa": mesa.__version__, "platform": platform.platform(),
            "memory_gib": None if mem_gb is None else round(mem_gb, 1),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}


def fit_exponent(xs, ys) -> float:
    """Slope of log(y) against log(x) (least squares)."""
    return float(np.polyfit(np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float)), 1)[0])


def timed(fn, inner: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def inner_count(fn, target_s: float = 0.02) -> int:
    """How many calls make one timing sample of about target_s (so the clock's resolution does not matter)."""
    one = timed(fn)
    return max(1, min(10_000, int(target_s / max(one, 1e-7))))


# =========================================================================== engines
def engine_model(n_agents: int, seed: int = 0):
    """A real ALSModel holding about n_agents/2 motor neurons and n_agents/2 microglia."""
    from sim.config import SimConfig, validate
    from sim.model import ALSModel

    cfg = SimConfig()
    cfg.seed = seed
    cfg.treatment.enabled = False
    density = 1000.0  # per mm², for both types
    side = math.sqrt(n_agents / 2 / density) * 1000.0
    cfg.domain.width_um = cfg.domain.height_um = side
    cfg.domain.voxel_um = max(1.0, side / 32)
    cfg.neurons.density_per_mm2 = cfg.microglia.density_per_mm2 = density
    return ALSModel(validate(cfg), "control")


def engine_inputs(model, rng: np.random.Generator) -> dict:
    """Pre-drawn states and environments: every input from 0 to 10× its half-maximal value."""
    from sim.agents import motor_neuron as mn

    p, q, d = model.cfg.neurons, model.cfg.microglia, model.cfg.disease
    nn, nm = len(model.neuron_store), len(model.microglia_store)
    health = rng.uniform(0.0, 1.0, nn)
    health[rng.random(nn) < 0.05] = 1e-5  # some neurons die this step
    alive = rng.random(nn) < 0.9
    health[~alive] = 0.0
    k_n = np.array([p.k_tnf_pm, p.k_il1b_pm, p.k_ros_nm, p.k_glutamate_um, p.k_bdnf_pm, p.k_gdnf_pm])
    k_m = np.array([q.k_damage_pm, q.k_tnf_pm, q.k_il10_pm, q.k_tgfb_pm, 1.0])
    return {"health": health, "alive": alive, "state": rng.integers(0, 3, nm).astype(np.int8),
            "neuron_inputs": rng.uniform(0.0, 10.0, (6, nn)) * k_n[:, None],
            "microglia_inputs": rng.uniform(0.0, 10.0, (5, nm)) * k_m[:, None],
            "u": rng.random(nm), "drive": mn.intrinsic_drive(110.0, d.drive_per_day, d.drive_ref_day, d.drive_exponent,
                                                                d.drive_offset_days)}


def engine_update(model, engine: str, x: dict) -> tuple[float, tuple[np.ndarray, ...]]:
    """Reset to the pre-drawn state, run one rule update with `engine`; return (seconds, results)."""
    model.cfg.engine = engine
    n, m, ctx = model.neuron_store, model.microglia_store, model.ctx
    n["health"][:], n["alive"][:], m["state"][:] = x["health"], x["alive"], x["state"]
    ctx.neuron_inputs, ctx.microglia_inputs, ctx.microglia_u, ctx.drive = x["neuron_inputs"], x["microglia_inputs"], x["u"], x["drive"]
    t0 = time.perf_counter()
    died = model._neuron_rules()
    model._microglia_rules()
    seconds = time.perf_counter() - t0
    return seconds, (n["health"].copy(), np.asarray(died).copy(), np.asarray(ctx.neuron_rate).copy(), m["state"].copy())


def bench_engines(sz: Sizes) -> dict:
    rows, agree_all = [], True
    for n_agents in sz.engine_agents:
        model = engine_model(n_agents)
        x = engine_inputs(model, np.random.default_rng(n_agents))
        n_total = len(model.neuron_store) + len(model.microglia_store)
        _, ref = engine_update(model, "vectorized", x)
        inner = inner_count(lambda: engine_update(model, "vectorized", x), 0.01)
        t_vec, t_agents, agree = [], [], True
        for _ in range(sz.engine_repeats):  # interleaved, so both see the same machine load
            secs, res = engine_update(model, "agents", x)
            t_agents.append(secs)
            agree &= all(a.tobytes() == b.tobytes() for a, b in zip(ref, res))
            for _ in range(inner):
                secs, res = engine_update(model, "vectorized", x)
                t_vec.append(secs)
            agree &= all(a.tobytes() == b.tobytes() for a, b in zip(ref, res))
        vec, per_agent = n_total / median(t_vec), n_total / median(t_agents)
        died = int(ref[1].sum())
        rows.append({"agents": n_total, "neurons": len(model.neuron_store), "microglia": len(model.microglia_store),
                     "vectorized_agent_steps_per_s": vec, "per_agent_agent_steps_per_s": per_agent, "speedup": vec / per_agent,
                     "identical": bool(agree), "neurons_died_in_update": died,
                     "microglia_changed_state": int((ref[3] != x["state"]).sum())})
        agree_all &= agree
        log(f"  engines {n_total:>6} agents: vectorized {vec:,.0f}/s, per-agent {per_agent:,.0f}/s, "
            f"×{vec / per_agent:,.0f}, identical={agree}")
    headline = min(rows, key=lambda r: abs(math.log(r["agents"] / 10_000)))
    return {"rows": rows, "headline_agents": headline["agents"], "engine_speedup_10k": headline["speedup"],
            "engines_agree": bool(agree_all),
            "what": "one rule update (neuron health + microglial state transition), same pre-drawn inputs; "
                    "agent-steps/s = agents / median seconds"}


# =========================================================================== fields
def cosine_mode(n: int, i: int, j: int) -> np.ndarray:
    c = (np.arange(n) + 0.5) / n
    return np.cos(np.pi * i * c)[:, None] * np.cos(np.pi * j * c)[None, :]


def field_problem(n: int, dx: float, diffusion: np.ndarray, decay: np.ndarray, t_h: float):
    """Initial values, sources, the exact semi-discrete solution at t_h and the continuous-PDE solution.

    c0 = 1 + ½φ(1,2) + ¼φ(n/8,n/16) + 1/20 φ(n/2,n/3); sources S = Σ a·r·φ for φ(0,0), φ(2,1), φ(n/4,n/8)
    with steady amplitudes a = ½, 0.3, 0.1, where r = Dκ + λ of that mode (κ: eigenvalue of the 5-point
    Neumann Laplacian) so every mode relaxes exactly: a(t) = e^{−rt}a₀ + (1 − e^{−rt})·a_steady.
    """
    from sim.fields import laplacian_eigenvalues

    kappa = laplacian_eigenvalues(n, n, dx)
    init = {(0, 0): 1.0, (1, 2): 0.5, (n // 8, n // 16): 0.25, (n // 2, n // 3): 0.05}
    steady = {(0, 0): 0.5, (2, 1): 0.3, (n // 4, n // 8): 0.1}
    modes = {ij: cosine_mode(n, *ij) for ij in set(init) | set(steady)}
    nf = len(diffusion)
    c0, src, exact, cont = (np.zeros((nf, n, n)) for _ in range(4))
    for f in range(nf):
        for ij, phi in modes.items():
            a0, a_inf = init.get(ij, 0.0), steady.get(ij, 0.0)
            r = diffusion[f] * kappa[ij] + decay[f]
            k_cont = (np.pi / (n * dx)) ** 2 * (ij[0] ** 2 + ij[1] ** 2)
            r_cont = diffusion[f] * k_cont + decay[f]
            c0[f] += a0 * phi
            src[f] += a_inf * r * phi
            exact[f] += (math.exp(-r * t_h) * a0 - math.expm1(-r * t_h) * a_inf) * phi
            cont[f] += (math.exp(-r_cont * t_h) * a0 - math.expm1(-r_cont * t_h) * a_inf * r / r_cont) * phi
    return c0, src, exact, cont


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def explicit_euler(c0: np.ndarray, src: np.ndarray, diffusion: float, decay: float, dx: float, t_h: float, substeps: int,
                   blocks: int = 8) -> tuple[np.ndarray, float, float]:
    """Forward Euler with the 5-point Neumann Laplacian; returns (values, seconds, raw wall seconds).

    The work is timed in `blocks` blocks of substeps; seconds = substeps × the median time per substep over
    the blocks (robust to another process stealing the CPU for a moment).
    """
    dt = t_h / substeps
    c = c0.copy()
    lap, fy, fx = np.empty_like(c), np.empty((c.shape[0] - 1, c.shape[1])), np.empty((c.shape[0], c.shape[1] - 1))
    a, keep, dts = diffusion * dt / dx**2, 1.0 - decay * dt, dt * src
    sizes = [len(b) for b in np.array_split(np.arange(substeps), min(blocks, substeps))]
    per_step, wall0 = [], time.perf_counter()
    for k in sizes:
        t0 = time.perf_counter()
        for _ in range(k):
            np.subtract(c[1:], c[:-1], out=fy)  # fluxes between neighbours; walls have none (zero flux)
            lap.fill(0.0)
            lap[:-1] += fy
            lap[1:] -= fy
            np.subtract(c[:, 1:], c[:, :-1], out=fx)
            lap[:, :-1] += fx
            lap[:, 1:] -= fx
            c *= keep
            lap *= a
            c += lap
            c += dts
        per_step.append((time.perf_counter() - t0) / k)
    return c, substeps * median(per_step), time.perf_counter() - wall0


def model_for_grid(n: int, dx: float):
    """The default model on an n × n grid of dx voxels (control arm), a few steps in."""
    from sim.config import SimConfig, validate
    from sim.model import ALSModel

    cfg = SimConfig()
    cfg.treatment.enabled = False
    cfg.disease.start_day = 100.0
    cfg.domain.width_um = cfg.domain.height_um = n * dx
    cfg.domain.voxel_um = dx
    model = ALSModel(validate(cfg), "control")
    for _ in range(3):
        model.step()
    return model


def bench_fields(sz: Sizes, tol: float = 1e-3, t_h: float = 1.0, dx: float = 20.0) -> dict:
    from scipy import fft

    from sim.config import FieldsConfig
    from sim.fields import FIELD_NAMES, FieldSolver, decay_per_h, diffusion_um2_per_h, laplacian_eigenvalues

    names = sz.field_names or FIELD_NAMES
    sel = [FIELD_NAMES.index(f) for f in names]
    diffusion, decay = diffusion_um2_per_h(FieldsConfig())[sel], decay_per_h(FieldsConfig())[sel]
    rows = []
    for n in sz.field_grids:
        c0, src, exact, cont = field_problem(n, dx, diffusion, decay, t_h)
        solver = FieldSolver((n, n), dx, diffusion, decay, t_h)
        solver.set_values(c0)
        dct_values = solver.step(src).copy()
        dct_err = [rel_l2(dct_values[f], exact[f]) for f in range(len(names))]

        def floor():
            fft.idctn(fft.dctn(src, type=2, axes=(1, 2), norm="ortho"), type=2, axes=(1, 2), norm="ortho")

        model = model_for_grid(n, dx)
        from sim.cohort import Cohort
        cohort = Cohort([model])
        step_fields = lambda: cohort._step_fields(4)  # noqa: E731 - the model's whole per-step field work
        k_solver, k_floor, k_model = inner_count(lambda: solver.step(src)), inner_count(floor), inner_count(step_fields)
        t_solver, t_floor, t_model = [], [], []
        for _ in range(sz.field_repeats):  # interleaved
            t_solver.append(timed(lambda: solver.step(src), k_solver))
            t_floor.append(timed(floor, k_floor))
            t_model.append(timed(step_fields, k_model))
        t_solver_m, t_floor_m, t_model_m = median(t_solver), median(t_floor), median(t_model)
        del model

        r_max = diffusion * laplacian_eigenvalues(n, n, dx).max() + decay
        per_field, euler_total = [], 0.0
        for f, name in enumerate(names):
            substeps = int(math.floor(t_h * r_max[f] / 2.0)) + 1  # largest stable substep: Δt·r_max < 2
            while True:
                values, seconds, wall = explicit_euler(c0[f], src[f], diffusion[f], decay[f], dx, t_h, substeps)
                err = rel_l2(values, exact[f])
                if err <= tol or substeps > 1e8:
                    break
                substeps *= 2
            euler_total += seconds
            per_field.append({"field": name, "substeps": substeps, "euler_rel_l2_error": err, "dct_rel_l2_error": dct_err[f],
                              "euler_seconds": seconds, "euler_wall_seconds": wall,
                              "speedup_vs_solver_per_field": seconds / (t_solver_m / len(names))})
        row = {"grid": n, "voxel_um": dx, "fields": len(names), "solver_seconds": t_solver_m,
               "solver_seconds_per_field": t_solver_m / len(names), "dct_pair_seconds": t_floor_m,
               "solver_vs_dct_floor": t_solver_m / t_floor_m, "model_step_fields_seconds": t_model_m,
               "model_step_fields_vs_dct_floor": t_model_m / t_floor_m, "euler_seconds": euler_total,
               "speedup_vs_explicit": euler_total / t_solver_m, "max_dct_rel_l2_error": max(dct_err),
               "max_euler_rel_l2_error": max(p["euler_rel_l2_error"] for p in per_field),
               "spatial_discretisation_rel_l2": max(rel_l2(exact[f], cont[f]) for f in range(len(names))),
               "per_field": per_field}
        rows.append(row)
        log(f"  fields {n}²: solver {t_solver_m * 1e3:.3f} ms ({row['solver_vs_dct_floor']:.2f}× the DCT pair), "
            f"Euler {euler_total:.2f} s → ×{row['speedup_vs_explicit']:,.0f}; model _step_fields "
            f"{row['model_step_fields_vs_dct_floor']:.2f}× the pair")
    headline = min(rows, key=lambda r: abs(math.log(r["grid"] / 128)))
    return {"rows": rows, "headline_grid": headline["grid"], "field_speedup_vs_explicit": headline["speedup_vs_explicit"],
            "field_time_vs_dct_floor": headline["solver_vs_dct_floor"], "tolerance_rel_l2": tol, "step_hours": t_h,
            "fields": list(names),
            "reference": "analytic solution of the semi-discrete system (5-point Neumann Laplacian on the same grid, "
                         "exact in time); spatial_discretisation_rel_l2 is how far that is from the continuous PDE"}


# =========================================================================== whole runs
def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


GNU_TIME = Path("/usr/bin/time")


def run_command(args: list[str], cwd: Path) -> dict:
    """Run `python -m sim args` in cwd: wall time, the largest process's peak RSS, the process tree's peak RSS.

    The largest process's peak is what `/usr/bin/time -v` reports (its child's max RSS, children included).
    It is not taken from this process's own wait4: a child forked from this (large) process would carry
    this process's memory into its high-water mark. Without GNU time it is the largest VmHWM sampled
    from /proc. The tree's peak is the largest sum of VmRSS over the process and its children, sampled
    every 50 ms (shared copy-on-write pages of the forked arm processes count once per process).
    """
    out, err = open(cwd / "stdout.txt", "w"), open(cwd / "stderr.txt", "w")
    cmd = [sys.executable, "-m", "sim", *args]
    use_time = GNU_TIME.is_file() and os.access(GNU_TIME, os.X_OK)
    if use_time:
        cmd = [str(GNU_TIME), "-f", "%M", "-o", str(cwd / "time.txt"), *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
    peak_tree, peak_hwm, done = [0], [0], threading.Event()

    def sample():
        while not done.wait(0.05):
            if Path("/proc").is_dir():
                pids = [p for p in _descendants(proc.pid) if not (use_time and p == proc.pid)]
                peak_tree[0] = max(peak_tree[0], sum(_status_kb(p, "VmRSS:") for p in pids))
                peak_hwm[0] = max([peak_hwm[0], *(_status_kb(p, "VmHWM:") for p in pids)])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    out.close()
    err.close()
    if proc.returncode != 0:
        raise SystemExit(f"alsim {' '.join(args)} exited {proc.returncode}:\n{(cwd / 'stderr.txt').read_text()[-2000:]}")
    peak_kb = int((cwd / "time.txt").read_text().split()[-1]) if use_time else peak_hwm[0]
    return {"seconds": wall, "peak_mb": peak_kb / 1024, "tree_peak_mb": peak_tree[0] / 1024,
            "peak_method": "GNU time %M" if use_time else "largest VmHWM sampled from /proc"}


def snapshot_bytes(folder: Path) -> dict:
    import zipfile
    files = list(folder.glob("outputs/*/*/snapshots/fields.npz"))
    if not files:
        return {}
    with zipfile.ZipFile(files[0]) as zf:
        raw = sum(i.file_size for i in zf.infolist() if i.filename in ("control.npy", "treated.npy"))
    agents = next(folder.glob("outputs/*/*/snapshots/agents.parquet"))
    import pyarrow.parquet as pq
    return {"field_frames_mb": raw / 2**20, "agent_rows": pq.ParquetFile(agents).metadata.num_rows}


def bench_runs(sz: Sizes, profile_path: Path) -> dict:
    scenarios = {"default": [], "quick": ["domain=quick"]}
    if sz.dense_snapshots:
        scenarios["default_dense_snapshots"] = ["domain.snapshot_every_days=0.25"]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        order = list(scenarios)
        if sz.run_warmup:  # page cache, .pyc files
            run_command(["domain=quick", *sz.run_overrides], Path(tmp))
        samples: dict[str, list[dict]] = {k: [] for k in order}
        for rep in range(sz.run_repeats):
            for name in order:
                if name == "default_dense_snapshots" and rep > 0:
                    continue
                cwd = Path(tmp, f"{name}-{rep}")
                cwd.mkdir()
                samples[name].append(run_command([*scenarios[name], *sz.run_overrides], cwd))
                if rep == 0:
                    samples[name][-1].update(snapshot_bytes(cwd))
        for name in order:
            s = samples[name]
            results[name] = {"command": " ".join(["alsim", *scenarios[name], *sz.run_overrides]), "repeats": len(s),
                             "seconds": median(x["seconds"] for x in s), "peak_mb": max(x["peak_mb"] for x in s),
                             "tree_peak_mb": max(x["tree_peak_mb"] for x in s), "all_seconds": [x["seconds"] for x in s],
                             "peak_method": s[0]["peak_method"],
                             **{k: v for k, v in s[0].items() if k in ("field_frames_mb", "agent_rows")}}
            log(f"  runs {results[name]['command']}: {results[name]['seconds']:.2f} s, peak {results[name]['peak_mb']:.0f} MB "
                f"(process tree {results[name]['tree_peak_mb']:.0f} MB)")
        profile_path.write_text(profile_runs(sz, Path(tmp)), encoding="utf-8")
    return {"scenarios": results, "quick_run_seconds": results["quick"]["seconds"],
            "default_run_seconds": results["default"]["seconds"], "default_run_peak_mb": results["default"]["peak_mb"],
            "profile": profile_path.name}


def profile_runs(sz: Sizes, tmp: Path) -> str:
    """cProfile of each scenario simulated in this process (arms one after the other, folder written)."""
    from sim.presets import compose_config
    from sim.run import run_to_folder

    text = [f"alsim profile summaries (python benchmarks/run.py, mode={MODE}); arms run serially in one process.\n"]
    for name, overrides in (("default", []), ("quick", ["domain=quick"])):
        cfg = compose_config([*overrides, *sz.run_overrides])
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        run_to_folder(cfg, tmp / f"profile-{name}", workers=1)
        prof.disable()
        wall = time.perf_counter() - t0
        for key, restrict, what in (("tottime", (), "all functions"), ("cumulative", (r"[/\\]sim[/\\]",), "alsim's own functions")):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(*restrict, 10)
            body = buf.getvalue()
            body = body[body.find("   ncalls"):] if "   ncalls" in body else body
            body = body.replace(str(Path(sys.prefix)), "<venv>").replace(str(HERE.parent), "<repo>")
            text.append(f"== alsim {' '.join([*overrides, *sz.run_overrides])}: top 10 by {key}, {what} "
                        f"(profiled wall {wall:.2f} s) ==\n{body.rstrip()}\n")
    return "\n".join(text) + "\n"


# =========================================================================== scaling
def bench_scaling(sz: Sizes) -> dict:
    """Time per simulated day of five models (agents ×1/×4/×16, voxels ×1/×4/×16; ×1 is one model), stepped
    round-robin one block at a time so they share the machine's load; medians over the blocks."""
    from sim.presets import compose_config
    from sim.config import grid_shape
    from sim.model import ALSModel

    def base():
        cfg = compose_config([f"domain={sz.scaling_base_domain}", "treatment=none"])
        cfg.disease.start_day = sz.scaling_start_day
        return cfg

    configs: dict[tuple[str, int], object] = {}
    for factor in (1, 4, 16):
        cfg = base()
        cfg.neurons.density_per_mm2 *= factor
        cfg.microglia.density_per_mm2 *= factor
        configs[("agents", factor)] = cfg
        cfg = base()
        cfg.domain.voxel_um /= math.sqrt(factor)
        configs[("voxels", factor)] = cfg
    unique = {key: cfg for key, cfg in configs.items() if key != ("voxels", 1)}  # ×1 is the same model for both
    models = {key: ALSModel(cfg, "control") for key, cfg in unique.items()}
    block = lambda m: [m.step() for _ in range(sz.scaling_block_steps)]  # noqa: E731
    for m in models.values():  # warm-up block
        block(m)
    times: dict[tuple[str, int], list[float]] = {key: [] for key in models}
    for _ in range(sz.scaling_blocks):
        for key, m in models.items():
            times[key].append(timed(lambda: block(m)))
    out: dict[str, list[dict]] = {"agents": [], "voxels": []}
    for (kind, factor), cfg in configs.items():
        key = (kind, factor) if (kind, factor) in models else ("agents", 1)
        m = models[key]
        ny, nx = grid_shape(cfg.domain)
        row = {"factor": factor, "agents": len(m.neuron_store) + len(m.microglia_store) + len(m.treg_store), "voxels": ny * nx,
               "seconds_per_day": median(times[key]) * (24.0 / m.dt_h) / sz.scaling_block_steps}
        out[kind].append(row)
    for kind in ("agents", "voxels"):
        out[kind].sort(key=lambda r: r["factor"])
        for r in out[kind]:
            log(f"  scaling {kind} ×{r['factor']:<2} ({r['agents']} agents, {r['voxels']} voxels): {r['seconds_per_day']:.3f} s per simulated day")
    a = fit_exponent([r["agents"] for r in out["agents"]], [r["seconds_per_day"] for r in out["agents"]])
    v = fit_exponent([r["voxels"] for r in out["voxels"]], [r["seconds_per_day"] for r in out["voxels"]])
    nv = [r["voxels"] for r in out["voxels"]]
    first, last = out["agents"][0], out["agents"][-1]
    return {"agents": out["agents"], "voxels": out["voxels"], "agents_scaling_exponent": a, "voxels_scaling_exponent": v,
            "n_log_n_exponent_over_same_voxels": fit_exponent(nv, [x * math.log(x) for x in nv]),
            "marginal_microseconds_per_agent_step": 1e6 * (last["seconds_per_day"] - first["seconds_per_day"])
            / (last["agents"] - first["agents"]) / 24.0,
            "window": f"control arm from day {sz.scaling_start_day:g}: one warm-up block, then {sz.scaling_blocks} blocks of "
                      f"{sz.scaling_block_steps} steps per model, models stepped round-robin; base domain={sz.scaling_base_domain}; "
                      "agents = motor neurons + microglia + Tregs at the end"}


# =========================================================================== sweep
def sweep_seconds(workers: int, runs: int, horizon: float, start_day: float = 90.0) -> float:
    """Wall time of a `runs`-seed sweep (domain=quick) with `workers` joblib workers, result cache off."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "sim", "-m", f"seed=range(0,{runs})", "domain=quick", f"disease.horizon_days={horizon:g}",
               f"treatment.start_day={start_day:g}", "run.cache_dir=", "hydra/launcher=parallel", f"hydra.launcher.n_jobs={workers}"]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"sweep with {workers} worker(s) failed:\n{done.stderr[-2000:]}")
        finished = len(list(Path(tmp, "multirun").rglob("summary.json")))
        if finished != runs:
            raise SystemExit(f"sweep with {workers} worker(s) finished {finished} of {runs} runs")
    return elapsed


def bench_sweep(sz: Sizes) -> dict:
    ones, twos = [], []
    for _ in range(sz.sweep_repeats):  # interleaved, so both see the same machine load
        ones.append(sweep_seconds(1, sz.sweep_runs, sz.sweep_horizon, sz.sweep_start_day))
        twos.append(sweep_seconds(2, sz.sweep_runs, sz.sweep_horizon, sz.sweep_start_day))
    one, two = median(ones), median(twos)
    log(f"  sweep {sz.sweep_runs} runs: 1 worker {one:.1f} s, 2 workers {two:.1f} s, ×{one / two:.2f} (medians of {sz.sweep_repeats})")
    return {"runs": sz.sweep_runs, "horizon_days": sz.sweep_horizon, "seconds_1_worker": one, "seconds_2_workers": two,
            "samples_1_worker": ones, "samples_2_workers": twos, "sweep_speedup_2_workers": one / two,
            "command": f"alsim -m 'seed=range(0,{sz.sweep_runs})' domain=quick disease.horizon_days={sz.sweep_horizon:g} "
                       f"treatment.start_day={sz.sweep_start_day:g} run.cache_dir= hydra/launcher=parallel hydra.launcher.n_jobs=N"}


# =========================================================================== cohort
def quick_mouse(seed: int, horizon: float, *extra: str):
    from sim.presets import compose_config
    start = [] if horizon > 90 else [f"treatment.start_day={min(31.0, horizon - 1):g}"]  # a short smoke horizon needs an early infusion
    return compose_config(["domain=quick", f"seed={seed}", f"disease.horizon_days={horizon:g}", *start, *extra])


def bench_cohort(sz: Sizes) -> dict:
    from sim.run import ArmJob, run_arm, run_arms, run_arms_parallel

    cfgs = [quick_mouse(s, sz.cohort_horizon) for s in range(sz.cohort_batched)]
    jobs = [ArmJob(c, arm) for c in cfgs for arm in ("control", "treated")]

    def batched():
        run_arms(jobs)

    def one_at_a_time():
        for c in cfgs[:sz.cohort_single]:
            run_arm(c, "control")
            run_arm(c, "treated")

    rate_b, rate_s = [], []
    for _ in range(sz.cohort_repeats):  # interleaved, so both see the same machine load
        rate_b.append(sz.cohort_batched / timed(batched))
        rate_s.append(sz.cohort_single / timed(one_at_a_time))
    speedup = median(rate_b) / median(rate_s)
    log(f"  cohort of {sz.cohort_batched}: {median(rate_b):.2f} paired individuals/s vs one at a time {median(rate_s):.2f}/s, ×{speedup:.2f}")

    # The field transforms alone, timed inside one pass of the same cohort: a floor that no reduction of the
    # per-individual Python work can go below (each plane's transform costs the same batched or not).
    transform_s, batched_s = transform_seconds(batched)
    transform_floor = transform_s / sz.cohort_batched * sz.cohort_large / (os.cpu_count() or 1)
    log(f"  field transforms: {transform_s:.1f} s of the cohort's {batched_s:.1f} s ({transform_s / batched_s:.0%}); "
        f"for {sz.cohort_large} paired individuals on {os.cpu_count() or 1} core(s) that part alone is {transform_floor:.0f} s")

    matches = batched_matches_single(sz)
    log(f"  batched run folders identical to single runs: {matches}")

    large = [ArmJob(quick_mouse(s, sz.cohort_horizon), arm, snapshots=False) for s in range(sz.cohort_large) for arm in ("control", "treated")]
    workers = os.cpu_count() or 1
    t0 = time.perf_counter()
    results = run_arms_parallel(large, workers)
    large_s = time.perf_counter() - t0
    failed = sum(isinstance(r, Exception) for r in results)
    log(f"  {sz.cohort_large} paired individuals on {workers} core(s): {large_s:.1f} s ({failed} failed)")
    return {"cohort_speedup": speedup, "paired_per_second_batched": rate_b, "paired_per_second_one_at_a_time": rate_s,
            "batched_individuals": sz.cohort_batched, "single_individuals_timed": sz.cohort_single, "horizon_days": sz.cohort_horizon,
            "batched_matches_single": matches, "large_cohort_individuals": sz.cohort_large, "large_cohort_seconds": large_s,
            "transform_seconds_in_batched": transform_s, "batched_seconds_transforms_timed": batched_s,
            "transform_share": transform_s / batched_s, "transform_floor_large_seconds": transform_floor,
            "large_cohort_workers": workers, "large_cohort_failed": failed,
            "cohort_1000_seconds": large_s if sz.cohort_large == 1000 else None}


def transform_seconds(fn) -> tuple[float, float]:
    """(seconds inside the field solver's DCTs, wall seconds) of one call of fn, the transforms timed one by one."""
    import sim.fields as fields
    real = fields.fft
    spent = [0.0]

    def timed_call(transform):
        def call(*args, **kwargs):
            t0 = time.perf_counter()
            out = transform(*args, **kwargs)
            spent[0] += time.perf_counter() - t0
            return out
        return call

    fields.fft = SimpleNamespace(dctn=timed_call(real.dctn), idctn=timed_call(real.idctn))
    try:
        wall = timed(fn)
    finally:
        fields.fft = real
    return spent[0], wall


def batched_matches_single(sz: Sizes) -> bool:
    """Run folders of one cohort vs each run alone: True only when every file of every folder is byte-identical."""
    from sim.run import run_batch_to_folders, run_to_folder

    h = 50.0 if sz.cohort_horizon < 50 else 90.0  # past every infusion day below
    cfgs = [quick_mouse(0, h, "treatment.start_day=40"), quick_mouse(1, h, "treatment.start_day=45", "treatment.dose_cells_per_kg=4e7"),
            quick_mouse(2, h, "treatment.start_day=40", "+experiment=knockout_local", "treatment.dose_cells_per_kg=1e8"),
            quick_mouse(3, h, "treatment.start_day=40", "manipulation=tnf_ko")]
    with tempfile.TemporaryDirectory() as tmp:
        batch_dirs = [Path(tmp, "batched", str(i)) for i in range(len(cfgs))]
        single_dirs = [Path(tmp, "single", str(i)) for i in range(len(cfgs))]
        results = run_batch_to_folders(cfgs, batch_dirs)
        if any(isinstance(r, Exception) for r in results):
            return False
        for cfg, d in zip(cfgs, single_dirs):
            run_to_folder(cfg, d)
        for a, b in zip(batch_dirs, single_dirs):
            files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
            files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
            if not files_a or files_a != files_b or any((a / f).read_bytes() != (b / f).read_bytes() for f in files_a):
                return False
    return True


# =========================================================================== report
def table(res: dict) -> str:
    s = res["sections"]
    lines = [f"alsim benchmarks (mode={res['mode']}) on {res['machine']['cores']} × {res['machine']['cpu_model']}, "
             f"Python {res['machine']['python']}, NumPy {res['machine']['numpy']}", ""]

    def row(*cells):
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")

    if "engines" in s:
        lines.append("engines (one rule update; agent-steps per second)")
        row("agents", "vectorized", "per-agent step()", "ratio", "identical")
        for r in s["engines"]["rows"]:
            row(r["agents"], f"{r['vectorized_agent_steps_per_s']:,.0f}", f"{r['per_agent_agent_steps_per_s']:,.0f}",
                f"{r['speedup']:,.0f}×", r["identical"])
        lines.append("")
    if "fields" in s:
        lines.append(f"fields (1-hour step, {len(s['fields']['fields'])} fields, rel. L2 error ≤ 1e-3 vs the semi-discrete analytic solution)")
        row("grid", "solver", "DCT pair", "solver/pair", "model _step_fields/pair", "explicit Euler", "Euler/solver")
        for r in s["fields"]["rows"]:
            row(f"{r['grid']}²", f"{r['solver_seconds'] * 1e3:.3f} ms", f"{r['dct_pair_seconds'] * 1e3:.3f} ms",
                f"{r['solver_vs_dct_floor']:.2f}", f"{r['model_step_fields_vs_dct_floor']:.2f}", f"{r['euler_seconds']:.2f} s",
                f"{r['speedup_vs_explicit']:,.0f}×")
        lines.append("")
    if "runs" in s:
        lines.append("whole runs (fresh process each, both arms)")
        row("command", "wall", "peak RSS (largest process)", "peak RSS (process tree)")
        for r in s["runs"]["scenarios"].values():
            row(r["command"], f"{r['seconds']:.2f} s", f"{r['peak_mb']:.0f} MB", f"{r['tree_peak_mb']:.0f} MB")
        lines.append("")
    if "scaling" in s:
        sc = s["scaling"]
        lines.append("scaling (seconds per simulated day)")
        row("", "×1", "×4", "×16", "exponent")
        row("agents", *(f"{r['seconds_per_day']:.3f} ({r['agents']})" for r in sc["agents"]), f"{sc['agents_scaling_exponent']:.2f}")
        row("voxels", *(f"{r['seconds_per_day']:.3f} ({r['voxels']})" for r in sc["voxels"]),
            f"{sc['voxels_scaling_exponent']:.2f} (N log N: {sc['n_log_n_exponent_over_same_voxels']:.2f})")
        lines.append("")
    if "sweep" in s:
        w = s["sweep"]
        lines.append(f"sweep ({w['runs']} runs): 1 worker {w['seconds_1_worker']:.1f} s, 2 workers {w['seconds_2_workers']:.1f} s, "
                     f"×{w['sweep_speedup_2_workers']:.2f}")
    if "cohort" in s:
        c = s["cohort"]
        lines.append(f"cohort ({c['batched_individuals']} quick mouse individuals, both arms): ×{c['cohort_speedup']:.2f} paired "
                     f"individuals per second vs one at a time; identical files: {c['batched_matches_single']}; "
                     f"{c['large_cohort_individuals']} paired individuals on {c['large_cohort_workers']} core(s): {c['large_cohort_seconds']:.1f} s")
        lines.append(f"  field transforms: {c['transform_share']:.0%} of the batched time; for {c['large_cohort_individuals']} paired "
                     f"individuals on {c['large_cohort_workers']} core(s) they alone take {c['transform_floor_large_seconds']:.0f} s")
    return "\n".join(lines)


MODE = "full"


def main(argv: list[str] | None = None) -> int:
    global MODE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="smaller sizes, under ~5 minutes")
    g.add_argument("--smoke", action="store_true", help="seconds; checks the script works, numbers mean nothing")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections ({', '.join(SECTIONS)})")
    ap.add_argument("--out", type=Path, default=HERE / "results.json", help="where to write the JSON (default: benchmarks/results.json)")
    args = ap.parse_args(argv)
    MODE = "smoke" if args.smoke else "quick" if args.quick else "full"
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    sz = MODES[MODE]
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    profile_path = out.with_name(out.stem + ".profile.txt")

    t0 = time.perf_counter()
    res: dict = {"mode": MODE, "command": " ".join(["python benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
                 "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), "sections": {}}
    res.update({k: None for k in HEADLINE_KEYS})
    runners = {"engines": bench_engines, "fields": bench_fields, "runs": lambda s: bench_runs(s, profile_path),
               "scaling": bench_scaling, "sweep": bench_sweep, "cohort": bench_cohort}
    for name in SECTIONS:
        if name in only:
            log(f"[{name}]")
            section = runners[name](sz)
            res["sections"][name] = section
            res.update({k: section[k] for k in HEADLINE_KEYS if k in section})
    res["elapsed_seconds"] = time.perf_counter() - t0
    res["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    print(table(res))
    print(f"\nwrote {out}" + (f" and {profile_path}" if "runs" in only else "") + f" in {res['elapsed_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
