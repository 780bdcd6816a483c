"""Command line: `alsim` (== `python -m sim`), a Hydra app.

Before Hydra creates a run folder, a single run's overrides are composed and validated here,
so bad input ends with one line naming the key and the allowed range, exit code 2, and nothing
written. A sweep (-m) checks every swept value before any job starts (`SweepCallback`); a sweep job
that still fails records `failure.json` and the sweep goes on (see `sim.experiments.sweep`).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import hydra
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sim import lifeline
from sim.config import ConfigError, SimConfig, validate
from sim.help import register_resolvers
from sim.presets import CONFIG_DIR, check_known_keys, compose_config
from sim.treatment import course_warning

# The simulator, its recorder and the sweep machinery (Mesa, pandas, pyarrow: most of a second) are imported
# by the functions that use them, so `alsim --help` and a refused override answer at once.

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1


def _fail(message: str) -> None:
    print(f"alsim: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def planned_run_dir(overrides: list[str], key: str = "hydra.run.dir") -> Path | None:
    """The folder Hydra will create for this run or sweep (`key`; `${now:…}` resolved at this second), or None."""
    from hydra import compose, initialize_config_dir

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
            return Path(str(OmegaConf.select(cfg, key)))
    except Exception:  # noqa: BLE001 - only a pre-check: what it cannot tell, Hydra reports itself
        return None
    finally:
        GlobalHydra.instance().clear()


def check_hydra_choices(overrides: list[str]) -> None:
    """Refuse an unknown option of one of Hydra's own groups (`hydra/launcher=nope`) in one line, as `alsim`
    does for its own groups, instead of Hydra's multi-line listing after the sweep has begun."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import MissingConfigException

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            compose(config_name="config", overrides=overrides, return_hydra_config=True)
    except MissingConfigException as exc:
        group, _, choice = str(exc.missing_cfg_file or "").rpartition("/")
        if group.startswith("hydra/"):
            options = ", ".join(exc.options or []) or "none"
            raise ConfigError(f"{group}={choice} is invalid: allowed values are {options}") from None
    except Exception:  # noqa: BLE001 - only a pre-check: what it cannot tell, Hydra reports itself
        pass
    finally:
        GlobalHydra.instance().clear()


def _check_sweep_values(overrides: list[str]) -> None:
    """The command line's own sweep points, before Hydra merges them (a bad fixed value such as
    `run.allow_large=maybe` would otherwise end in Hydra's multi-line report); the sweep callback then checks
    them again together with a preset's swept parameters."""
    from sim.experiments import sweep

    try:
        sweep.check_values(overrides)
    except ConfigError:
        raise
    except Exception:  # noqa: BLE001 - optimizer intervals and the like: the sweep callback and Hydra decide
        pass


def check_run_dir(run_dir: Path | None, key: str = "hydra.run.dir") -> None:
    """Refuse, before Hydra creates anything, a run folder that cannot be written or already holds a result."""
    if run_dir is None:
        return
    if key == "hydra.run.dir" and (run_dir / "summary.json").exists():
        raise ConfigError(f"{key}={run_dir} is invalid: it already holds a finished run (summary.json); "
                          "choose a new folder so that result is kept")
    from sim.recorder import nearest_existing

    existing = nearest_existing(run_dir)
    if not existing.is_dir():
        raise ConfigError(f"{key}={run_dir} is invalid: {existing} is a file, not a folder")
    try:  # the real test of writability (permissions, read-only or special file systems, root or not)
        os.rmdir(tempfile.mkdtemp(prefix=".alsim-write-check-", dir=existing))
    except OSError as exc:
        raise ConfigError(f"{key}={run_dir} is invalid: cannot create a folder in {existing} "
                          f"({exc.strerror or type(exc).__name__})") from None


def _run_failed(out_dir: Path, overrides: list[str], exc: BaseException) -> None:
    """A single run that could not finish: one line, no result files (the writer removed its own), exit 1.

    `failure.json` (as a failed sweep job writes) is left next to Hydra's `.hydra/` if it can be written, so
    `alsim-compare` lists the folder as a failed run with this reason.
    """
    if isinstance(exc, OSError):
        reason = f"could not write the run folder {out_dir}: {exc.strerror or exc}"
    elif isinstance(exc, BrokenProcessPool):
        reason = "a simulation worker process died (out of memory or killed)"
    elif isinstance(exc, MemoryError):
        reason = "out of memory"
    else:
        reason = f"the simulation stopped: {exc}"
    from sim.experiments import sweep

    try:
        sweep.record_failure(out_dir, overrides, exc)
    except OSError:
        pass
    print(f"alsim: error: {reason.splitlines()[0]}; no result was written", file=sys.stderr)
    raise SystemExit(EXIT_RUN_FAILED)


def _remove_job_folder(out_dir: Path) -> None:
    """Remove what Hydra wrote for a job that never ran (its .hydra/ and log), and the folder if empty."""
    shutil.rmtree(out_dir / ".hydra", ignore_errors=True)
    for log in out_dir.glob("*.log"):
        log.unlink(missing_ok=True)
    for folder in (out_dir, out_dir.parent):  # the job folder, then the date folder Hydra made for it
        try:
            folder.rmdir()
        except OSError:
            break


def _progress(arm: str, fraction: float) -> None:
    if sys.stderr.isatty():
        print(f"\r  simulating {arm:<8} {fraction:5.0%}", end="" if fraction < 1 else "\n", file=sys.stderr, flush=True)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def run_job(cfg: DictConfig) -> float | None:
    """One Hydra job: simulate the paired arms, write the run folder, print the summary."""
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    if hc.mode == RunMode.MULTIRUN:
        if cfg.calibration.enabled:
            return _calibration_trial(cfg, out_dir, list(hc.overrides.task))
        if cfg.trial.enabled:
            return _virtual_trial_job(cfg, out_dir, list(hc.overrides.task))
        return _sweep_job(cfg, out_dir, list(hc.overrides.task))
    try:
        check_known_keys(cfg)
        sim_cfg = validate(OmegaConf.to_object(cfg))
    except ConfigError as exc:
        _remove_job_folder(out_dir)
        _fail(str(exc))
    if sim_cfg.calibration.enabled:  # score the preset's current values against the natural-history bands
        from sim.experiments import calibrate  # scipy.stats and the cohort code: only calibration needs them
        try:
            result = calibrate.trial(sim_cfg, out_dir, list(hc.overrides.task))
        except ConfigError as exc:
            _remove_job_folder(out_dir)
            _fail(str(exc))
        print(calibrate.trial_summary(result))
        print(f"trial folder: {out_dir}")
        return float(result["loss"])
    if sim_cfg.trial.enabled:  # the virtual phase 3 trial (sim/experiments/trial.py): trial.json and trial.md
        return _virtual_trial(sim_cfg, out_dir, list(hc.overrides.task))
    if warning := course_warning(sim_cfg.treatment, sim_cfg.disease):  # also recorded in summary.json
        print(f"alsim: warning: {warning}", file=sys.stderr)
    from sim.model import NumericalError
    from sim.run import summary_table

    try:
        # two cores: one process per arm (on an idle machine 1.21× faster than both arms in one cohort, which uses
        # 0.85× the CPU: sweep jobs and the dashboard do that); one core: both arms in one cohort
        summary = _simulate_and_write(sim_cfg, out_dir, workers=min(2, os.cpu_count() or 1))
    except (OSError, NumericalError, MemoryError, BrokenProcessPool) as exc:
        _run_failed(out_dir, list(hc.overrides.task), exc)
    print(summary_table(summary))
    print(f"run folder: {out_dir}")
    return _delay(summary)


def _calibration_trial(cfg: DictConfig, out_dir: Path, overrides: list[str]) -> float:
    """One calibration trial (the sweeper minimises the returned loss); a failing trial scores very badly."""
    from sim.experiments import calibrate

    try:
        check_known_keys(cfg)
        result = calibrate.trial(validate(OmegaConf.to_object(cfg)), out_dir, overrides)
        return float(result["loss"])
    except Exception as exc:  # one bad proposal must not end the calibration: record it and go on
        from sim.experiments import sweep

        sweep.record_failure(out_dir, overrides, exc)
        print(f"alsim: calibration trial {out_dir.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return calibrate.FAILED_TRIAL_LOSS


def _trial_design(design: str):
    """The module that runs a virtual trial's design (trial.design): NurOwn's or ALSUMMIT's. Imported only when a trial
    runs (scipy.stats and the batched engine: only the trial needs them)."""
    if design == "alsummit":
        from sim.experiments import trial_alsummit
        return trial_alsummit
    from sim.experiments import trial
    return trial


def _virtual_trial(sim_cfg: SimConfig, out_dir: Path, overrides: list[str]) -> float | None:
    """A single virtual-trial run: simulate the pool, replicate the trial, write trial.json and trial.md, print the outcome."""
    from sim.model import NumericalError

    trial = _trial_design(sim_cfg.trial.design)
    try:
        result = trial.run_trial(sim_cfg, out_dir, overrides, log=lambda m: print(m, file=sys.stderr))
    except (OSError, NumericalError, MemoryError, BrokenProcessPool) as exc:
        _run_failed(out_dir, overrides, exc)
    print(trial.summary_text(result))
    print(f"trial folder: {out_dir}")
    return trial.headline(result)


def _virtual_trial_job(cfg: DictConfig, out_dir: Path, overrides: list[str]) -> float | None:
    """A virtual trial as a sweep job (e.g. over trial.visit_noise_sd_points); a failing job is recorded, the sweep goes on."""
    try:
        check_known_keys(cfg)
        sim_cfg = validate(OmegaConf.to_object(cfg))
        trial = _trial_design(sim_cfg.trial.design)
        result = trial.run_trial(sim_cfg, out_dir, overrides, log=lambda m: None)
        return trial.headline(result)
    except Exception as exc:  # noqa: BLE001 - one failing job must not end the sweep: record it and go on
        _job_failed(out_dir, overrides, exc)
        return None


def _simulate_and_write(sim_cfg: SimConfig, out_dir: Path, workers: int) -> dict:
    from sim.run import run_to_folder

    return run_to_folder(sim_cfg, out_dir, _progress, workers=workers)


def _delay(summary: dict) -> float | None:
    return None if summary["effect"] is None else summary["effect"]["t50_delay_days"]


def _sweep_job(cfg: DictConfig, out_dir: Path, overrides: list[str]) -> float | None:
    """A sweep job: reuse a finished identical job if there is one; record a failure instead of raising.

    Jobs run serially inside (the launcher provides the parallelism).
    """
    lifeline.watch_launcher()  # in a joblib/loky worker: end with the launching process, not minutes later
    from sim.experiments import sweep

    members = sweep.batch_of(Path(HydraConfig.get().sweep.dir), HydraConfig.get().job.num) if cfg.run.batch_size > 1 else None
    if members == []:
        return None  # the first job of its batch simulates it and writes its folder
    if members:
        return _sweep_batch(out_dir.parent, members)
    try:
        check_known_keys(cfg)
        sim_cfg = validate(OmegaConf.to_object(cfg))
        summary, key = _finished_or_pending(out_dir, sim_cfg)
        if summary is None:
            summary = _simulate_and_write(sim_cfg, out_dir, workers=1)
            if key:
                sweep.register(Path(sim_cfg.run.cache_dir), key, out_dir)
        return _delay(summary)
    except Exception as exc:  # one failing job must not end the sweep: record it and go on
        _job_failed(out_dir, overrides, exc)
        return None


def _finished_or_pending(out_dir: Path, sim_cfg: SimConfig) -> tuple[dict | None, str | None]:
    """A sweep job before it simulates: (its summary, None) if it is finished in place or reused from the cache,
    else (None, its cache key or None without a cache) — after its warning, or its injected failure, if any."""
    from sim.experiments import sweep
    from sim.run import config_hash, git_commit

    cache = Path(sim_cfg.run.cache_dir) if sim_cfg.run.cache_dir else None
    key = sweep.cache_key(config_hash(sim_cfg), git_commit())
    if sweep.is_finished(out_dir, config_hash(sim_cfg)):  # a re-run into the same sweep folder: keep it
        sweep.keep_in_place(out_dir)
        return json.loads((out_dir / "summary.json").read_text(encoding="utf-8")), None
    finished = sweep.find_finished(cache, key, config_hash(sim_cfg)) if cache else None
    sweep.clear_outcome(out_dir)
    if finished is not None and finished.resolve() != out_dir.resolve():
        sweep.reuse(finished, out_dir)
        return json.loads((out_dir / "summary.json").read_text(encoding="utf-8")), None
    if warning := course_warning(sim_cfg.treatment, sim_cfg.disease):
        print(f"alsim: warning: job {out_dir.name}: {warning}", file=sys.stderr)
    if sim_cfg.seed == sim_cfg.run.fail_on_seed:
        raise RuntimeError(f"injected failure (run.fail_on_seed={sim_cfg.run.fail_on_seed})")
    return None, key if cache else None


def _job_failed(out_dir: Path, overrides: list[str], exc: BaseException) -> None:
    """One failing job must not end the sweep: record it (failure.json) and say so in one line."""
    from sim.experiments import sweep

    sweep.record_failure(out_dir, overrides, exc)
    print(f"alsim: job {out_dir.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def _sweep_batch(sweep_dir: Path, members: list[tuple[int, list[str]]]) -> float | None:
    """Lead a batch of sweep jobs: reuse each finished one, simulate the others together, write each job's folder.

    Every member is checked, reused, failed and registered under its own configuration key, as it would be alone.
    """
    from sim.experiments import sweep
    from sim.run import run_batch_to_folders

    todo: list[tuple[list[str], SimConfig, Path, str | None]] = []
    delays: dict[int, float | None] = {}
    for num, overrides in members:
        out = sweep_dir / str(num)
        try:
            sim_cfg = compose_config(overrides)
            summary, key = _finished_or_pending(out, sim_cfg)
            if summary is not None:
                delays[num] = _delay(summary)
                continue
            todo.append((overrides, sim_cfg, out, key))
        except Exception as exc:  # one failing job must not end the sweep: record it and go on
            _job_failed(out, overrides, exc)
    results = run_batch_to_folders([c for _, c, _, _ in todo], [o for _, _, o, _ in todo])
    for (overrides, sim_cfg, out, key), result in zip(todo, results):
        if isinstance(result, Exception):
            _job_failed(out, overrides, result)
            continue
        if key:
            sweep.register(Path(sim_cfg.run.cache_dir), key, out)
        delays[int(out.name)] = _delay(result)
    return delays.get(members[0][0])


# Hydra flags after which no simulation runs (help, info, printing the config, completion).
NO_RUN_FLAGS = ("-h", "--help", "--hydra-help", "--version", "-i", "--info", "-c", "--cfg", "-p", "--package",
                "--shell-completion", "-sc", "--experimental-rerun")
VALUE_FLAGS = ("-cn", "--config-name", "-cp", "--config-path", "-cd", "--config-dir")


def _single_run_overrides(argv: list[str]) -> list[str] | None:
    """The overrides of a single run, or None for multirun / non-running invocations."""
    overrides, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-m", "--multirun") or arg.split("=")[0] in NO_RUN_FLAGS:
            return None
        elif arg in VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            overrides.append(arg)
        elif arg.split("=")[0] not in VALUE_FLAGS:
            return None  # an option we do not know: let Hydra handle (and report) it
    return overrides


def main() -> None:
    lifeline.terminate_cleanly()  # SIGTERM unwinds like Ctrl-C: spools and half-written files are removed
    lifeline.mark_launcher()
    register_resolvers()  # the generated parts of `alsim --help` (sim/help.py)
    overrides = _single_run_overrides(sys.argv[1:])
    if overrides is not None:
        try:
            compose_config(overrides)
            check_run_dir(planned_run_dir(overrides))
        except ConfigError as exc:
            _fail(str(exc))
    elif "-m" in sys.argv[1:] or "--multirun" in sys.argv[1:]:  # the sweep folder, at the first point of the sweep
        from sim.experiments import sweep

        try:
            base = [f"{k}={v[0]}" for k, v in sweep.expand([a for a in sys.argv[1:] if not a.startswith("-")])]
        except Exception:  # noqa: BLE001 - unusual arguments: Hydra parses and reports them itself
            base = None
        try:
            if base is not None:
                check_hydra_choices(base)
                _check_sweep_values([a for a in sys.argv[1:] if not a.startswith("-")])
            check_run_dir(planned_run_dir(base, "hydra.sweep.dir") if base is not None else None, "hydra.sweep.dir")
        except ConfigError as exc:
            _fail(str(exc))
    run_job()


if __name__ == "__main__":  # pragma: no cover
    main()
