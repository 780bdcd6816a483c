"""Sweeps: resume from finished jobs, isolate failures, show progress.

Job side (called from the Hydra task in each job's process, whatever the launcher):
* a job whose own folder already holds a finished result of its configuration that passes its
  manifest (the same command re-run into the same fixed `hydra.sweep.dir`) is kept in place;
* every finished job is indexed in `run.cache_dir` under a key made of its config hash, the
  package version and the git commit; a later job with the same key (for example the same
  multirun command run again, into a new sweep folder) hard-links the finished files into its
  own folder instead of simulating — `reused.json` says where from. Only sources that pass their
  manifest are reused; an edited, truncated or unverifiable one is simulated again;
* a job that fails writes `failure.json` (its overrides and the error) and returns, so the
  launcher goes on with the other jobs.

Sweep side (`SweepCallback`, a Hydra callback in the launching process): checks every swept
value and every pair of values of two swept keys before any job starts (`check_values`), shows runs done/total and an ETA while jobs finish (it watches
the sweep folder, so it works for local, joblib, SLURM and Ray launchers alike), and at the end
reports how many jobs were simulated, reused or failed, listing each failure with its overrides.
"""
from __future__ import annotations

import copy
import itertools
import json
import math
import os
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import RangeSweep
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

import sim
from sim import manifest
from sim.presets import compose_config
from sim.recorder import OPTIONAL_FILES, RESULT_FILES, write_text_atomic

JOBS_FILE = ".alsim-jobs.json"  # the sweep's job list, for batched jobs (`run.batch_size`)
FAILURE = "failure.json"
REUSED = "reused.json"


# --------------------------------------------------------------------------- job side
def cache_key(config_hash: str, commit: str | None) -> str:
    """Results depend on the config, the seed (both in the hash) and the code that ran them."""
    return f"{config_hash}-{sim.__version__}-{(commit or 'nogit')[:12]}"


def _write_json(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def find_finished(cache_dir: Path, key: str, config_hash: str) -> Path | None:
    """A finished run folder for this key whose summary still matches, or None."""
    entry = cache_dir / f"{key}.json"
    try:
        run_dir = Path(json.loads(entry.read_text(encoding="utf-8"))["run_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return run_dir if is_finished(run_dir, config_hash) else None


def is_finished(run_dir: Path, config_hash: str) -> bool:
    """True if run_dir holds a complete result of this configuration that passes its manifest.

    Only manifest-verified folders count: an edited or truncated file, or a folder without a manifest
    (its files cannot be checked), is simulated again rather than reused.
    """
    if (run_dir / FAILURE).exists():
        return False
    try:
        summary = manifest.load_summary(run_dir / "summary.json")
    except (OSError, ValueError):
        return False
    if summary.get("config_hash") != config_hash or not all((run_dir / f).is_file() for f in RESULT_FILES):
        return False
    return manifest.verify(run_dir).status == manifest.VERIFIED


def clear_outcome(out_dir: Path) -> None:
    """Before a job simulates into its folder again: forget an earlier failure or reuse note there."""
    for name in (FAILURE, REUSED):
        (out_dir / name).unlink(missing_ok=True)


def register(cache_dir: Path, key: str, run_dir: Path) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    _write_json(cache_dir / f"{key}.json", {"run_dir": str(run_dir.resolve())})


def reuse(source: Path, out_dir: Path) -> None:
    """Bring a finished job's result files into out_dir (hard links, else copies); summary last."""
    for name in (*(f for f in OPTIONAL_FILES if (source / f).is_file()), *RESULT_FILES):  # summary.json stays last
        src, dst = source / name, out_dir / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    _write_json(out_dir / REUSED, {"source": str(source.resolve())})


def keep_in_place(out_dir: Path) -> None:
    """A re-run sweep found this job already finished and verified in its own folder: keep it as it is."""
    _write_json(out_dir / REUSED, {"source": str(out_dir.resolve()), "kept_in_place": True})


def record_failure(out_dir: Path, overrides: list[str], exc: BaseException) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / FAILURE, {
        "overrides": list(overrides), "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc))})


def batch_of(sweep_dir: Path, num: int) -> list[tuple[int, list[str]]] | None:
    """The batch job `num` belongs to (`run.batch_size`, see `write_jobs`).

    None: the job runs alone; []: another job of its batch simulates it; otherwise the batch this job leads,
    as (job number, overrides) of each member, itself first.
    """
    try:
        info = json.loads((sweep_dir / JOBS_FILE).read_text(encoding="utf-8"))
        size, jobs = int(info["batch_size"]), info["jobs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if size < 2 or num >= len(jobs):
        return None
    lead = num - num % size
    if lead != num:
        return []
    return [(j, list(jobs[j])) for j in range(lead, min(lead + size, len(jobs)))]


# --------------------------------------------------------------------------- sweep side
def job_list(config: DictConfig) -> list[list[str]]:
    """Every job's overrides, numbered as Hydra's basic sweeper numbers them (its own `split_arguments`)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    params = config.hydra.sweeper.get("params") or {}
    args = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    return BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(args), None)[0]


def write_jobs(config: DictConfig) -> str | None:
    """With `run.batch_size` > 1, write the job list the batch leaders read; return why batching is off, if it is."""
    sweep_dir = Path(config.hydra.sweep.dir)
    (sweep_dir / JOBS_FILE).unlink(missing_ok=True)  # never leave an earlier sweep's list behind
    size = int(config.run.batch_size)
    if size < 2:
        return None
    sweep = OmegaConf.to_container(config.hydra, resolve=False)
    if not str(sweep["sweeper"].get("_target_", "")).endswith("BasicSweeper"):
        return "run.batch_size applies to grid sweeps (the basic sweeper); every job runs alone"
    if sweep["sweep"]["subdir"] != "${hydra.job.num}":
        return "run.batch_size needs the default hydra.sweep.subdir (${hydra.job.num}); every job runs alone"
    sweep_dir.mkdir(parents=True, exist_ok=True)
    _write_json(sweep_dir / JOBS_FILE, {"batch_size": size, "jobs": job_list(config)})
    return None



def sweep_overrides(config: DictConfig) -> list[str]:
    """All overrides of the sweep: the preset's `hydra.sweeper.params` unless the command line sets the key."""
    task = list(config.hydra.overrides.task)
    given = {o.split("=")[0].lstrip("+~") for o in task}
    params = config.hydra.sweeper.get("params") or {}
    return [f"{k}={v}" for k, v in params.items() if k not in given] + task


def _range_values(sweep: RangeSweep) -> tuple[list[str], int]:
    """A range's two ends (as Hydra would write them) and its length, without listing what lies between."""
    start, stop, step = sweep.start, sweep.stop, sweep.step
    n = max(0, math.ceil((stop - start) / step)) if step else 0
    ends = [start, start + (n - 1) * step] if n else []
    return list(dict.fromkeys(str(x) for x in ends)), n


def expand_counted(overrides: list[str]) -> list[tuple[str, list[str], int]]:
    """(key, values to check, number of values) for every override; a plain override has one value.

    A `range(...)` is represented by its two ends: bounds are intervals, so if both ends pass so does
    every value between (this keeps `seed=range(0,100000000)` instant).
    """
    out = []
    for o in OverridesParser.create().parse_overrides(overrides=overrides):
        key = o.get_key_element()
        if isinstance(o.value(), RangeSweep):  # shuffled or not: the same values
            values, n = _range_values(o.value())
        elif o.is_sweep_override():
            values = list(o.sweep_string_iterator())
            n = len(values)
        else:
            values, n = [o.get_value_element_as_str()], 1
        out.append((key, values, n))
    return out


def expand(overrides: list[str]) -> list[tuple[str, list[str]]]:
    """(key, distinct values to check) for every override (see expand_counted)."""
    return [(k, list(dict.fromkeys(v))) for k, v, _ in expand_counted(overrides)]


def count_jobs(overrides: list[str]) -> int:
    n = 1
    for _, _, count in expand_counted(overrides):
        n *= count
    return n


class _PointChecker:
    """Validates sweep points quickly: Hydra composes each distinct choice of config groups once, plain
    values are then set on a copy; a point that fails is composed in full again for the canonical message."""

    def __init__(self, keys: list[str], base: list[str]):
        self.keys, self.base = keys, base
        self._composed: dict[tuple[str, ...], Any] = {}

    def _plain(self, key: str, cfg) -> bool:
        if key[:1] in "+~" or key.startswith("hydra"):
            return False
        try:
            node = OmegaConf.select(cfg, key, throw_on_missing=False)
        except Exception:  # noqa: BLE001 - not a plain value path
            return False
        return node is not None and not OmegaConf.is_config(node)

    def check(self, point: list[str]) -> None:
        from sim.config import ConfigError, validate

        base = self._composed.get(tuple(self.base))
        if base is None:
            base = self._composed[tuple(self.base)] = OmegaConf.structured(compose_config(self.base))
        plain = {i for i, k in enumerate(self.keys) if self._plain(k, base)}
        groups = tuple(point[i] if i not in plain else self.base[i] for i in range(len(point)))
        try:
            cfg = self._composed.get(groups)
            if cfg is None:
                cfg = self._composed[groups] = OmegaConf.structured(compose_config(list(groups)))
            cfg = copy.deepcopy(cfg)
            for i in plain:
                OmegaConf.update(cfg, self.keys[i], yaml.safe_load(point[i].split("=", 1)[1]), merge=False)
            validate(OmegaConf.to_object(cfg))
        except ConfigError:
            compose_config(point)  # the exact composition alsim will use decides, and words the error
            raise
        except Exception:  # noqa: BLE001 - a value the quick path cannot set: compose it in full
            compose_config(point)


def check_values(overrides: list[str]) -> None:
    """Raise ConfigError on the first bad sweep point, before any job runs.

    Checked: the base point, each distinct value of each key alone, and every pair of values of two swept
    keys (cross-key rules such as `n_infusions > 1` needs `interval_days > 0`). Not the full product, so a
    sweep of millions of jobs is checked in seconds; a rule that needs three keys to fail at once is
    caught when that job starts (it fails alone, recorded in failure.json).
    """
    items = expand(overrides)
    keys = [k for k, _ in items]
    base = [f"{k}={v[0]}" for k, v in items]
    checker = _PointChecker(keys, base)
    checker.check(base)
    for i, (key, values) in enumerate(items):
        for value in values[1:]:
            checker.check(base[:i] + [f"{key}={value}"] + base[i + 1:])
    swept = [i for i, (_, values) in enumerate(items) if len(values) > 1]
    for a, b in itertools.combinations(swept, 2):
        for va, vb in itertools.product(items[a][1][1:], items[b][1][1:]):
            point = list(base)
            point[a], point[b] = f"{keys[a]}={va}", f"{keys[b]}={vb}"
            checker.check(point)


def scan(sweep_dir: Path) -> dict[str, list[Path]]:
    """Job folders of a sweep by outcome."""
    out: dict[str, list[Path]] = {"simulated": [], "reused": [], "failed": []}
    if not sweep_dir.is_dir():
        return out
    for job in sorted(p for p in sweep_dir.iterdir() if p.is_dir()):
        if (job / FAILURE).is_file():
            out["failed"].append(job)
        elif (job / "summary.json").is_file():
            out["reused" if (job / REUSED).is_file() else "simulated"].append(job)
    return out


def _fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class Progress(threading.Thread):
    """Prints runs done/total and an ETA while jobs finish (polls the sweep folder)."""

    def __init__(self, sweep_dir: Path, total: int, every_s: float = 1.0, stream=sys.stderr):
        super().__init__(daemon=True)
        self.sweep_dir, self.total, self.every_s, self.stream = sweep_dir, total, every_s, stream
        self.started = time.monotonic()
        self._stop_event = threading.Event()
        self._last = -1

    def line(self) -> str:
        jobs = scan(self.sweep_dir)
        done = sum(len(v) for v in jobs.values())
        elapsed = time.monotonic() - self.started
        work = len(jobs["simulated"]) + len(jobs["failed"])
        eta = elapsed / work * (self.total - done) if work else float("nan")
        eta_text = _fmt_duration(eta) if eta == eta else "…"
        return (f"[sweep] {done}/{self.total} runs done ({len(jobs['reused'])} reused, {len(jobs['failed'])} failed), "
                f"elapsed {_fmt_duration(elapsed)}, ETA {eta_text}"), done

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            self.report()

    def report(self, final: bool = False) -> None:
        text, done = self.line()
        if self.stream.isatty():
            print(f"\r{text}", end="\n" if final else "", file=self.stream, flush=True)
        elif done != self._last and (final or done * 10 // max(self.total, 1) != self._last * 10 // max(self.total, 1)):
            print(text, file=self.stream, flush=True)  # logs: one line per tenth of the sweep
        self._last = done

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
        self.report(final=True)


class SweepCallback(Callback):
    """Hydra callback: validate swept values first, show progress, report the outcome."""

    def __init__(self) -> None:
        self.progress: Progress | None = None

    def __getstate__(self) -> dict:
        # Launchers pickle callbacks into each job; the progress thread stays in the launching process.
        return {}

    def __setstate__(self, state: dict) -> None:
        self.progress = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from sim.config import ConfigError

        from sim.experiments import calibrate

        overrides = sweep_overrides(config)
        try:
            if config.calibration.enabled:  # the sweeper proposes values; only the targets need checking
                calibrate.load_targets(config.calibration.targets_file, config.disease.name)
                return
            check_values(overrides)
        except ConfigError as exc:
            print(f"alsim: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        why_not = write_jobs(config)
        if why_not:
            print(f"alsim: note: {why_not}", file=sys.stderr)
        self.progress = Progress(Path(config.hydra.sweep.dir), count_jobs(overrides))
        self.progress.start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if config.calibration.enabled:
            return _calibration_report(config)
        if self.progress:
            self.progress.stop()
        jobs = scan(Path(config.hydra.sweep.dir))
        print(f"{sim.NOTICE}\nsweep finished: {len(jobs['simulated'])} simulated, {len(jobs['reused'])} reused from earlier "
              f"runs, {len(jobs['failed'])} failed — results in {config.hydra.sweep.dir}")
        for job in jobs["failed"]:
            info = json.loads((job / FAILURE).read_text(encoding="utf-8"))
            print(f"  FAILED {job.name}: {' '.join(info['overrides'])}: {info['error']}")
        if jobs["failed"]:
            print("re-run the same command to retry only the failed and missing runs")
            raise SystemExit(1)


def _calibration_report(config: DictConfig) -> None:
    """Write the fit report of a calibration sweep (best trial, targets vs model, chosen values)."""
    from sim.experiments import calibrate

    fitted = list((config.hydra.sweeper.get("params") or {}).keys())
    start = {k: OmegaConf.select(config, k) for k in fitted}
    command = "alsim -m " + " ".join(config.hydra.overrides.task)
    folder = calibrate.write_report(Path(config.hydra.sweep.dir), Path(config.calibration.report_dir), fitted, start, command)
    print(f"{sim.NOTICE}\ncalibration finished: fit report in {folder / 'fit_report.md'}")
