"""Run a paired simulation (control and treated arms with the same seed) and summarise it."""
from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import sim
from sim import lifeline, spread, uncertainty
from sim.config import DiseaseConfig, SimConfig
from sim.cohort import Cohort, batch_key
from sim.eligibility import day_note, not_eligible_reason, summary_reason
from sim.model import ALSModel, Individual
from sim.recorder import ArmRecord, Recorder, write_run_folder
from sim.treatment import cells_per_infusion, course_warning, dose_per_kg, infusion_days, infusions_past_horizon, n_planned

ProgressFn = Callable[[str, float], None]


def arms_of(cfg: SimConfig) -> list[str]:
    return ["control", "treated"] if cfg.treatment.enabled else ["control"]


@dataclass
class ArmJob:
    """One arm of one individual to simulate: its config, arm, the individual (None: the seed's draw) and spool."""

    cfg: SimConfig
    arm: str = "control"
    individual: Individual | None = None
    spool_dir: Path | None = None
    snapshots: bool = True  # False: time-series rows only (cohorts for calibration and sensitivity need no more)


def run_arm(cfg: SimConfig, arm: str, progress: ProgressFn | None = None, spool_dir: Path | None = None,
            individual: Individual | None = None) -> ArmRecord:
    """Simulate one arm from the preset's start day to its horizon (as `individual`, if given, not the seed's draw).

    The onset region is recorded in full: snapshots are kept in the returned record, or with `spool_dir`
    streamed to files there as they are taken. Further regions (`disease.regions`, sim/spread.py) advance in
    the same cohort and enter the rows as the person's columns.
    """
    result = run_arms([ArmJob(cfg, arm, individual, spool_dir)], progress)[0]
    if isinstance(result, Exception):
        raise result
    return result


def run_arms(jobs: list[ArmJob], progress: ProgressFn | None = None, batch_size: int = 0) -> list[ArmRecord | Exception]:
    """Simulate many arms together in cohorts (`sim.cohort`): one record per job, or the error that stopped it.

    Jobs that share a grid and the batched rules' parameters advance in one cohort (at most `batch_size`
    individuals, 0: no limit); each result is identical to the job run alone. An individual whose fields turn
    non-finite is returned as its `NumericalError`; the others finish.
    """
    results: list[ArmRecord | Exception | None] = [None] * len(jobs)
    units = [_ArmUnit(job) for job in jobs]
    groups: dict[tuple, list[int]] = {}
    for i, unit in enumerate(units):
        groups.setdefault(batch_key(unit.models[0]), []).append(i)
    for members in groups.values():
        size = batch_size if batch_size > 0 else len(members)
        for start in range(0, len(members), size):
            chunk = members[start:start + size]
            for i, outcome in zip(chunk, _run_units([units[i] for i in chunk], progress)):
                results[i] = outcome
    return results  # type: ignore[return-value]


class _ArmUnit:
    """One job's models (its onset region and any further regions) and their observers."""

    def __init__(self, job: ArmJob):
        cfg = job.cfg
        if job.spool_dir is not None:
            lifeline.remove_on_exit(job.spool_dir)  # in a worker orphaned mid-run, nobody else would remove it
        onset = ALSModel(cfg, job.arm, job.individual)
        self.models = [onset] + [ALSModel(cfg, job.arm, onset.individual, region=k) for k in range(1, cfg.disease.regions)]
        steps_per_day = 24.0 / onset.dt_h
        self.record_every = max(1, round(cfg.domain.record_every_hours / onset.dt_h))
        self.recorder = Recorder(onset, record_every=self.record_every,
                                 snapshot_every=round(cfg.domain.snapshot_every_days * steps_per_day), spool_dir=job.spool_dir,
                                 snapshots=job.snapshots)
        self.other_rows: list[list[dict[str, float]]] = [[] for _ in self.models[1:]]

    def observe(self, step: int, final: bool = False) -> None:
        self.recorder.observe(step, final)
        if step % self.record_every == 0 or final:
            for rows, model in zip(self.other_rows, self.models[1:]):
                rows.append(model.neuron_metrics())

    def finish(self) -> ArmRecord:
        record = self.recorder.finish()
        spread.add_person_columns(record.rows, self.other_rows)
        return record


def _run_units(units: list[_ArmUnit], progress: ProgressFn | None) -> list[ArmRecord | Exception]:
    """Advance the units' models in one cohort to their common horizon; an individual that fails drops out."""
    models = [m for u in units for m in u.models]
    owner = [i for i, u in enumerate(units) for _ in u.models]
    cohort = Cohort(models)
    n_steps = models[0].n_steps
    failed: dict[int, Exception] = {}
    try:
        for u in units:
            u.observe(0)
        for k in range(1, n_steps + 1):
            cohort.advance()
            for pos, exc in cohort.failures.items():
                failed.setdefault(owner[pos], exc)
            if failed:
                _drop_units(cohort, owner, failed)
            for i, u in enumerate(units):
                if i not in failed:
                    u.observe(k, final=k == n_steps)
            if progress and k % max(1, n_steps // 100) == 0:
                for i, u in enumerate(units):
                    if i not in failed:
                        progress(u.models[0].arm, k / n_steps)
        return [failed[i] if i in failed else u.finish() for i, u in enumerate(units)]
    finally:
        for u in units:
            u.recorder.close()


def _drop_units(cohort: Cohort, owner: list[int], failed: dict[int, Exception]) -> None:
    """A failed individual leaves the cohort with all its regions (the others go on unchanged)."""
    rows = [b for b, pos in enumerate(cohort._position) if owner[pos] in failed]
    if rows:
        cohort.drop(rows)


def run_arms_parallel(jobs: list[ArmJob], workers: int = 0, batch_size: int = 0,
                      done: Callable[[int, int], None] | None = None) -> list[ArmRecord | Exception]:
    """`run_arms` spread over `workers` processes (0: all cores), each simulating its share of the jobs in cohorts.

    Jobs are dealt out in turn, so every process gets a similar mix; results come back in job order and are
    identical to running each job alone. `done(finished, total)` is called as processes finish.
    """
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers < 2:
        results = run_arms(jobs, batch_size=batch_size)
        if done:
            done(len(jobs), len(jobs))
        return results
    shares = [list(range(w, len(jobs), workers)) for w in range(workers)]
    results: list[ArmRecord | Exception | None] = [None] * len(jobs)
    # workers end within a second if this process dies (lifeline); on SIGTERM/SIGINT here they are killed
    with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(), initializer=lifeline.watch_parent) as pool:
        try:
            futures = {pool.submit(run_arms, [jobs[i] for i in share], None, batch_size): share for share in shares}
            finished = 0
            for fut in as_completed(futures):
                for i, r in zip(futures[fut], fut.result()):
                    results[i] = r
                finished += len(futures[fut])
                if done:
                    done(finished, len(jobs))
        except BaseException:
            _kill_workers(pool)
            raise
    return results  # type: ignore[return-value]


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Shutting a pool down waits for runs that may take minutes: kill its processes instead."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.kill()


def raise_first(results: list[ArmRecord | Exception]) -> list[ArmRecord]:
    """The records, or the first job's error if any job failed (callers that need every individual)."""
    for r in results:
        if isinstance(r, Exception):
            raise r
    return results  # type: ignore[return-value]


def worker_context() -> multiprocessing.context.BaseContext:
    """Start method for the simulator's worker pools: fork where it exists, else spawn.

    Fork keeps users' own scripts working without an `if __name__ == "__main__":` guard (forkserver and
    spawn re-run the main script in every worker). The dashboard, a threaded server, uses spawn instead.
    """
    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


def simulate(cfg: SimConfig, progress: ProgressFn | None = None, workers: int = 1, spool_dir: Path | None = None) -> list[ArmRecord]:
    """Run every arm; with workers ≥ 2 the arms run in parallel processes (identical results)."""
    arms = arms_of(cfg)
    if workers < 2 or len(arms) < 2:  # both arms in one cohort
        return raise_first(run_arms([ArmJob(cfg, arm, None, spool_dir) for arm in arms], progress))
    ctx = worker_context()
    # arm workers end within a second if this process dies (lifeline); on SIGTERM/SIGINT here they are killed,
    # since shutting the pool down would wait for arms that may take minutes
    with ProcessPoolExecutor(max_workers=min(workers, len(arms)), mp_context=ctx, initializer=lifeline.watch_parent) as pool:
        try:
            return list(pool.map(run_arm, [cfg] * len(arms), arms, [None] * len(arms), [spool_dir] * len(arms)))
        except BaseException:
            _kill_workers(pool)
            raise


def run_to_folder(cfg: SimConfig, out_dir: Path, progress: ProgressFn | None = None, workers: int = 1) -> dict:
    """Simulate every arm and write the run folder (see README "What a run writes"); return the summary.

    Snapshots stream to a hidden spool in `snapshots/` while the arms run and are copied into the final
    files at the end, so memory stays flat however many snapshots a run takes; the spool is always removed.
    """
    if cfg.uncertainty.mode == "posterior":  # also the draws × individuals factorial (sim/uncertainty.py)
        return uncertainty.run_to_folder(cfg, out_dir, progress, workers)
    out_dir = Path(out_dir)
    spool = out_dir / "snapshots" / f".spool.tmp-{os.getpid()}"
    try:
        records = simulate(cfg, progress, workers=workers, spool_dir=spool)
        summary = summarize(cfg, records)
        write_run_folder(out_dir, records, summary, cfg.domain.voxel_um)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return summary


def run_batch_to_folders(cfgs: list[SimConfig], out_dirs: list[Path], batch_size: int = 0) -> list[dict | Exception]:
    """Simulate every arm of many runs together in cohorts and write each run's own folder, as `run_to_folder` would.

    Returns each run's summary, or the error that stopped it (a non-finite field, a write that failed); one
    run's failure leaves the others' folders complete. Spools are always removed.
    """
    spools = [Path(out) / "snapshots" / f".spool.tmp-{os.getpid()}" for out in out_dirs]
    jobs, owner = [], []
    for i, cfg in enumerate(cfgs):
        for arm in arms_of(cfg):
            jobs.append(ArmJob(cfg, arm, None, spools[i]))
            owner.append(i)
    try:
        results = run_arms(jobs, batch_size=batch_size)
        out: list[dict | Exception] = []
        for i, (cfg, out_dir) in enumerate(zip(cfgs, out_dirs)):
            records = [r for r, o in zip(results, owner) if o == i]
            failed = next((r for r in records if isinstance(r, Exception)), None)
            if failed is not None:
                out.append(failed)
                continue
            try:
                summary = summarize(cfg, records)
                write_run_folder(Path(out_dir), records, summary, cfg.domain.voxel_um)
                out.append(summary)
            except OSError as exc:
                out.append(exc)
        return out
    finally:
        for spool in spools:
            shutil.rmtree(spool, ignore_errors=True)


# --------------------------------------------------------------------------- summary
def t50_days(r: ArmRecord) -> float | None:
    """Day on which half of the motor neurons had died (exact death days), or None if never."""
    need = math.ceil(r.n_neurons / 2)
    return float(r.death_days[need - 1]) if len(r.death_days) >= need else None


def first_day(days: np.ndarray, mask: np.ndarray) -> float | None:
    """First recorded day on which `mask` holds (None if never)."""
    hit = np.flatnonzero(mask)
    return float(days[hit[0]]) if hit.size else None


def arm_outcomes(r: ArmRecord, d: DiseaseConfig) -> dict:
    """Per-arm read-outs. Onset and end stage are thresholds on the functional index (see DiseaseConfig):
    onset on the onset region's, end stage on the person's (the mean over regions, sim/spread.py)."""
    days = np.array([row["day"] for row in r.rows])
    alive = np.array([row["person_mn_alive_fraction"] for row in r.rows])
    onset_region = np.array([row["functional_index"] for row in r.rows])
    function = np.array([row["person_functional_index"] for row in r.rows])
    final = r.rows[-1]
    end_stage = first_day(days, function < d.end_stage_functional_index)
    return {
        "t50_days": t50_days(r),
        "onset_days": first_day(days, onset_region < d.onset_functional_index),
        "end_stage_days": end_stage,
        "mn_alive_at_end_stage": float(alive[days == end_stage][0]) if end_stage is not None else None,
        "mn_alive_final": final["person_mn_alive_fraction"],
        "mn_total": r.n_neurons,
        "functional_index_final": final["person_functional_index"],
        "auc_alive_days": float(np.trapezoid(alive, days)),
        "infusion_days": r.infusion_days,
        "individual": r.individual,
    }


def paired_effect(control: dict, treated: dict, horizon: float) -> dict:
    """Treated minus control; a delay that runs past the horizon is reported as censored."""
    c, t = control["t50_days"], treated["t50_days"]
    effect = {"t50_delay_days": None, "t50_delay_censored_at_least_days": None,
              "auc_gain_days": treated["auc_alive_days"] - control["auc_alive_days"],
              "mn_alive_final_difference": treated["mn_alive_final"] - control["mn_alive_final"]}
    ce, te = control.get("end_stage_days"), treated.get("end_stage_days")
    effect["end_stage_delay_days"] = te - ce if ce is not None and te is not None else None
    if c is not None and t is not None:
        effect["t50_delay_days"] = t - c
    elif c is not None:
        effect["t50_delay_censored_at_least_days"] = horizon - c
    return effect


def end_stage_delay(control: float | None, treated: float | None, horizon: float, first_day: float | None) -> dict:
    """One individual's paired end-stage delay, treated − control in days (NaN if the control never reached end stage).

    A treated arm that outlives the horizon counts with the horizon as its end stage (a lower bound: `censored`), never
    dropped, which would hide the largest gains; `eligible` is `sim.eligibility`'s judgement (alive at the first infusion).
    """
    reached = [x is not None and not math.isnan(x) for x in (control, treated)]
    delay = ((treated if reached[1] else horizon) - control) if reached[0] else math.nan
    return {"delay": float(delay), "censored": reached[0] and not reached[1],
            "eligible": not_eligible_reason(control, first_day) is None}


def eligible_delays(control: np.ndarray, treated: np.ndarray, horizon: float,
                    first_day: float) -> tuple[np.ndarray, np.ndarray, int]:
    """`end_stage_delay` over individuals: the eligible ones' delays and controls' end stage, and how many are censored."""
    cells = [end_stage_delay(c, t, horizon, first_day) for c, t in zip(control.tolist(), treated.tolist())]
    use = [(x["delay"], c, x["censored"]) for x, c in zip(cells, control.tolist())
           if x["eligible"] and math.isfinite(x["delay"])]
    return (np.array([u[0] for u in use], dtype=float), np.array([u[1] for u in use], dtype=float),
            sum(u[2] for u in use))


def end_stage_days(jobs: list[ArmJob], workers: int = 1) -> np.ndarray:
    """End-stage day of each job's arm (NaN: not reached within the horizon), in `workers` batched cohorts."""
    records = raise_first(run_arms_parallel(jobs, workers, batch_size=max(1, math.ceil(len(jobs) / max(workers, 1)))))
    return np.array([np.nan if (d := arm_outcomes(r, j.cfg.disease)["end_stage_days"]) is None else d
                     for j, r in zip(jobs, records)], dtype=float)


def config_hash(cfg: SimConfig) -> str:
    """Hash of everything that determines the results (the model config and seed, not `run`/`calibration`/`trial` options).

    The `uncertainty` options enter only in a posterior run (its size and the draws file's content), the eligibility
    window only when it is on, and `treatment.offsets_days` only when it is given, so every other run keeps the hash it
    had before those options existed."""
    model = {k: v for k, v in asdict(cfg).items() if k not in ("run", "calibration", "trial", "uncertainty")}
    if cfg.uncertainty.mode != "none":
        model["uncertainty"] = uncertainty.hash_part(cfg)
    if model["treatment"].get("eligibility_max_days_from_onset") is None:  # off: the hash runs had before the setting
        del model["treatment"]["eligibility_max_days_from_onset"]
    if not model["treatment"].get("offsets_days"):  # a regular schedule: the hash runs had before irregular ones existed
        model["treatment"].pop("offsets_days", None)
    text = json.dumps(model, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict:
    import mesa
    import scipy
    return {"alsim": sim.__version__, "git_commit": git_commit(), "python": platform.python_version(),
            "numpy": np.__version__, "scipy": scipy.__version__, "mesa": mesa.__version__}


def summarize(cfg: SimConfig, records: list[ArmRecord]) -> dict:
    arms = {r.arm: arm_outcomes(r, cfg.disease) for r in records}
    t, d = cfg.treatment, cfg.disease
    summary = {
        "non_clinical": True,
        "notice": sim.NOTICE,
        "version": sim.__version__,
        "config_hash": config_hash(cfg),
        "seed": cfg.seed,
        "disease": d.name,
        "domain": cfg.domain.name,
        "treatment": {"name": t.name, "enabled": t.enabled, "route": t.route, "dose_cells_per_kg": dose_per_kg(t, d),
                      "dose_cells_per_individual": cells_per_infusion(t, d), "body_weight_kg": d.body_weight_kg,
                      "start_day": t.start_day, "n_infusions": n_planned(t), "interval_days": t.interval_days,
                      **({"offsets_days": [float(x) for x in t.offsets_days]} if t.offsets_days else {}),
                      "infusion_days": infusion_days(t, d), "infusions_past_horizon": infusions_past_horizon(t, d),
                      "eligibility_max_days_from_onset": t.eligibility_max_days_from_onset},
        "warnings": [w for w in (course_warning(t, d),) if w],
        "manipulation": cfg.manipulation.name,
        "clock": d.clock,
        "calibration": d.calibration or "not calibrated (no fit recorded for this preset)",
        "days": [d.start_day, d.horizon_days],
        "regions": d.regions,
        "individual": records[0].individual,
        "arms": arms,
        "effect": paired_effect(arms["control"], arms["treated"], d.horizon_days) if "treated" in arms else None,
        "provenance": provenance(),
    }
    return summary


def _fmt_day(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.1f}"


def _day_notes(summary: dict) -> list[str]:
    """Words for a T50 before the clock's day 0 or before the first infusion (a bare negative day means nothing)."""
    clock = summary.get("clock", "the preset's clock")
    first = (summary.get("treatment", {}).get("infusion_days") or [None])[0] if summary.get("effect") else None
    notes = []
    for day in dict.fromkeys(o.get("t50_days") for o in summary["arms"].values()):
        note = day_note(day, clock)
        if note is not None:
            notes.append(f"T50 on {note}")
        if day is not None and first is not None and day < first and summary_reason(summary) is None:
            notes.append(f"T50 {day:g} comes before the first infusion (day {first:g}): the course cannot change it; "
                         "read the end-stage delay instead")
    return notes


def summary_table(summary: dict) -> str:
    """The short text printed after a run, under the non-clinical notice."""
    lines = [sim.NOTICE, "",
             f"disease={summary['disease']}  seed={summary['seed']}  days {summary['days'][0]:g}–{summary['days'][1]:g} ({summary['clock']})",
             f"preset calibration: {summary.get('calibration', 'unknown')}",
             *([f"manipulation: {summary['manipulation']} (an in-silico equivalent of a published experiment, both arms)"]
               if summary.get("manipulation", "none") != "none" else []),
             f"{'arm':<9} {'T50 (days to 50% MN loss)':>26} {'MN alive at end':>16} {'functional index':>17}"]
    for arm, o in summary["arms"].items():
        lines.append(f"{arm:<9} {_fmt_day(o['t50_days']):>26} {o['mn_alive_final']:>16.1%} {o['functional_index_final']:>17.2f}")
    lines += _day_notes(summary)
    if summary.get("regions", 1) > 1:
        lines.append(f"(T50: the onset region's patch; MN alive and functional index: the whole individual, "
                     f"mean over {summary['regions']} body regions)")
    e = summary["effect"]
    if e is not None:
        t = summary["treatment"]
        days = ', '.join(f'{x:g}' for x in t['infusion_days']) or 'none'
        if t.get("route", "iv") == "iv":
            lines.append(f"treated arm: {t['dose_cells_per_kg']:.3g} cells/kg ({t['dose_cells_per_individual']:.3g} cells per individual) "
                         f"× {len(t['infusion_days'])} infusion(s) on day(s) {days}")
        else:
            lines.append(f"treated arm: route {t['route']}, {t['dose_cells_per_individual']:.3g} cells per injection "
                         f"({t['dose_cells_per_kg']:.3g} cells/kg) × {len(t['infusion_days'])} injection(s) on day(s) {days}")
        if t.get("offsets_days"):
            lines.append(f"schedule: treatment.start_day {t['start_day']:g} + treatment.offsets_days "
                         f"[{', '.join(f'{x:g}' for x in t['offsets_days'])}] (an irregular course)")
        lines += [f"warning: {w}" for w in summary.get("warnings", [])]
        if (why := summary_reason(summary)) is not None:
            lines.append(f"modeled paired T50 delay: none computed, {why}")
        elif e["t50_delay_days"] is not None:
            lines.append(f"modeled paired T50 delay (treated − control): {e['t50_delay_days']:+.1f} days "
                         f"(one seed; a delay of 0 means no modeled slowing)")
        elif e["t50_delay_censored_at_least_days"] is not None:
            lines.append(f"modeled paired T50 delay: ≥ {e['t50_delay_censored_at_least_days']:.1f} days (treated arm never reached 50 % loss)")
        else:
            lines.append("modeled paired T50 delay: undefined (control arm never reached 50 % loss)")
        if e.get("end_stage_delay_days") is not None and summary_reason(summary) is None:
            lines.append(f"modeled paired end-stage delay (treated − control): {e['end_stage_delay_days']:+.1f} days")
    if summary.get("uncertainty"):
        lines += uncertainty.summary_lines(summary["uncertainty"])
    return "\n".join(lines)
