"""Collect finished run folders into one tidy, queryable dataset.

A run folder is any directory holding `summary.json` (`sim.recorder` writes it last, so its
presence marks a result). Folders are found recursively, so a sweep folder, a parent of several
sweeps or a single run folder can all be given. Anything that is not a complete result — a job
folder with `.hydra/` but no summary, a truncated summary or Parquet file, a failed job with
`failure.json` — is skipped with a reason instead of stopping the whole comparison, because
one broken job in a long sweep should not hide the others.

Which parameters were *swept* is read from each job's `.hydra/overrides.yaml`; their values are
taken from the job's resolved `.hydra/config.yaml`, so `4e7` and `40000000.0` compare equal and
a run that did not override a key still gets the value it ran with.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

import sim
from sim import manifest

SUMMARY, TIMESERIES, FAILURE, CELLS = "summary.json", "timeseries.parquet", "failure.json", "uncertainty.parquet"
TREATMENT_PARAMS = ("dose_cells_per_kg", "start_day", "n_infusions", "interval_days")
ARM_OUTCOMES = ("t50_days", "onset_days", "end_stage_days", "mn_alive_final", "functional_index_final", "auc_alive_days")
EFFECT_OUTCOMES = ("t50_delay_days", "t50_delay_censored_at_least_days", "auc_gain_days", "end_stage_delay_days")
INDIVIDUAL = ("drive_multiplier", "treg_multiplier")  # the virtual individual: who benefits, who does not
# A posterior run's summary (summary.json's `uncertainty` block): runs.parquet columns uncertainty_<key>, only when present.
UNCERTAINTY = ("draws", "individuals", "median_days", "low_days", "high_days", "parameter_share", "dominant")
# Override keys that never describe the model: Hydra's own settings and how a job is executed.
NOT_MODEL_KEYS = ("hydra", "run", "calibration")


class CompareError(Exception):
    """A reason to refuse the whole comparison (one line, exit code 2, nothing written)."""


@dataclass
class Run:
    """One complete run folder, read once."""

    path: Path
    summary: dict[str, Any]
    timeseries: pd.DataFrame
    outcomes: dict[str, Any]  # the scalar columns of runs.parquet taken from summary.json
    overrides: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None
    verified: bool = True  # False: no manifest.json, so its files could not be checked ("unverified")
    cells: pd.DataFrame | None = None  # a posterior run's uncertainty.parquet (draws × individuals), else None

    @property
    def version(self) -> str:
        return str(self.summary.get("version"))

    @property
    def disease(self) -> str:
        return str(self.summary.get("disease"))


@dataclass
class Skipped:
    """A folder that is not used, and why."""

    path: Path
    reason: str
    failed: bool = False  # a job that ran and failed (failure.json), not just an incomplete folder
    kind: str = "incomplete"  # incomplete, failed, corrupt (fails its manifest), conflict or duplicate


@dataclass
class Dataset:
    """The collected runs as two tidy tables, plus which columns define a scenario."""

    runs: pd.DataFrame
    timeseries: pd.DataFrame
    scenario_cols: list[str]
    parameter_keys: dict[str, str]  # column -> the override key it came from
    uncertainty: pd.DataFrame | None = None  # the posterior runs' cells with their run_id (None: no posterior run)


# --------------------------------------------------------------------------- discovery
def _candidate_dirs(root: Path) -> list[Path]:
    """Folders under root (root included) that hold a result, a failure, or Hydra's `.hydra/`."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if SUMMARY in filenames or FAILURE in filenames or ".hydra" in dirnames:
            found.append(here)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return found


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = manifest.load_summary(path / SUMMARY)
    except manifest.CorruptRun as exc:
        raise manifest.CorruptRun(f"corrupt: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"summary.json cannot be read ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"summary.json is not valid JSON (truncated? {exc.msg} at line {exc.lineno})") from None
    if not isinstance(summary, dict):
        raise ValueError("summary.json is not a JSON object")
    if summary.get("non_clinical") is not True:
        raise ValueError("summary.json lacks non_clinical: true (not an alsim result)")
    missing = [k for k in ("version", "seed", "disease", "arms", "treatment") if k not in summary]
    if missing or not isinstance(summary["arms"], dict) or "control" not in summary["arms"]:
        raise ValueError(f"summary.json lacks {', '.join(missing) or 'arms.control'}")
    return summary


def _read_timeseries(path: Path) -> pd.DataFrame:
    try:
        frame = pq.read_table(path / TIMESERIES).to_pandas()
    except FileNotFoundError:
        raise ValueError("timeseries.parquet is missing") from None
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"timeseries.parquet cannot be read ({str(exc).splitlines()[0][:80]})") from None
    if not {"arm", "day", "mn_alive_fraction"} <= set(frame.columns):
        raise ValueError("timeseries.parquet lacks the arm, day and mn_alive_fraction columns")
    for col in ("day", "mn_alive_fraction"):
        if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]):
            raise ValueError(f"timeseries.parquet column {col} is {frame[col].dtype}, expected numbers")
    return frame


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def _failure_reason(path: Path) -> str:
    try:
        info = json.loads((path / FAILURE).read_text(encoding="utf-8"))
        return str(info.get("error", "unknown error")).splitlines()[0]
    except (OSError, ValueError, AttributeError, IndexError):
        return "failure.json present (unreadable)"


def load_run(path: Path) -> Run:
    """Read one run folder; raise ValueError with a short reason if it is not a complete result."""
    if (path / FAILURE).is_file():
        raise ValueError(_failure_reason(path))
    if not (path / SUMMARY).is_file():
        raise ValueError("no summary.json (incomplete: still running, interrupted or never started)")
    summary = _read_summary(path)
    try:
        outcomes = summary_outcomes(summary)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"summary.json has an unexpected layout ({exc.__class__.__name__}: {exc})") from None
    check = manifest.verify(path)
    if not check.ok:
        raise manifest.CorruptRun(f"corrupt: {check.reason}")
    timeseries = _read_timeseries(path)
    overrides = _read_yaml(path / ".hydra" / "overrides.yaml")
    config = _read_yaml(path / ".hydra" / "config.yaml")
    return Run(path, summary, timeseries, outcomes, [str(o) for o in overrides] if isinstance(overrides, list) else [],
               config if isinstance(config, dict) else None, verified=check.status == manifest.VERIFIED,
               cells=_read_cells(path) if summary.get("uncertainty") else None)


def _read_cells(path: Path) -> pd.DataFrame:
    """A posterior run's draws × individuals table (sim/uncertainty.py)."""
    try:
        frame = pq.read_table(path / CELLS).to_pandas()
    except FileNotFoundError:
        raise ValueError(f"{CELLS} is missing (summary.json has an uncertainty block)") from None
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"{CELLS} cannot be read ({str(exc).splitlines()[0][:80]})") from None
    if missing := [c for c in ("draw", "seed", "end_stage_delay_days", "eligible") if c not in frame.columns]:
        raise ValueError(f"{CELLS} lacks the column {missing[0]}")
    return frame


def discover(paths: list[Path]) -> tuple[list[Run], list[Skipped]]:
    """Every complete run under the given folders, and every folder skipped with its reason.

    Raises CompareError if a given path does not exist. The same folder reached twice (a sweep
    and its parent both given) is read once.
    """
    for p in paths:
        if not p.exists():
            raise CompareError(f"{p} does not exist")
        if not p.is_dir():
            raise CompareError(f"{p} is not a folder")
    seen: set[Path] = set()
    runs, skipped = [], []
    for root in paths:
        for folder in _candidate_dirs(root):
            key = folder.resolve()
            if key in seen:
                continue
            seen.add(key)
            try:
                runs.append(load_run(folder))
            except manifest.CorruptRun as exc:
                skipped.append(Skipped(folder, str(exc), kind="corrupt"))
            except ValueError as exc:
                failed = (folder / FAILURE).is_file()
                skipped.append(Skipped(folder, str(exc), failed=failed, kind="failed" if failed else "incomplete"))
    return runs, skipped


def _content(run: Run) -> str:
    """What must agree between two copies of one configuration: every outcome and the time series."""
    ts = pd.util.hash_pandas_object(run.timeseries, index=False).sum() if len(run.timeseries) else 0
    return repr(sorted(run.outcomes.items())) + f"|{ts}"


def drop_duplicates(runs: list[Run]) -> tuple[list[Run], list[Skipped]]:
    """Keep one run per configuration hash (configuration and seed): the same run counted twice
    (a re-run sweep that reused earlier jobs, a copied folder) would narrow every interval.

    Copies with *different* contents (one was edited, or made by other code) are a conflict: no copy can be
    trusted over the other, so all of them are left out and reported as conflicting.
    """
    groups: dict[str, list[Run]] = {}
    for run in sorted(runs, key=lambda r: str(r.path)):
        groups.setdefault(str(run.summary.get("config_hash") or run.path), []).append(run)
    kept, dropped = [], []
    for group in groups.values():
        if len({_content(r) for r in group}) > 1:
            others = ", ".join(str(r.path) for r in group)
            dropped += [Skipped(r.path, f"conflict: same configuration and seed as another run with different results "
                                        f"({others}); all copies left out", kind="conflict") for r in group]
            continue
        kept.append(group[0])
        dropped += [Skipped(r.path, f"same configuration and seed as {group[0].path} (counted once)", kind="duplicate")
                    for r in group[1:]]
    return kept, dropped


def left_out_lines(skipped: list[Skipped]) -> list[str]:
    """Plain lines for the printed table and the report: how many runs were left out as corrupt or conflicting."""
    lines = []
    for kind, label in (("corrupt", "corrupt (fail their manifest or hold non-finite numbers)"),
                        ("conflict", "conflicting (same configuration and seed, different results)")):
        bad = [s for s in skipped if s.kind == kind]
        if bad:
            lines.append(f"{len(bad)} run(s) left out as {label}: " + ", ".join(str(s.path) for s in bad))
    return lines


# --------------------------------------------------------------------------- compatibility
def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def check_compatible(runs: list[Run], group_by: str | None) -> list[str]:
    """Refuse mixes that cannot be compared; return warning lines for harmless differences."""
    if not runs:
        raise CompareError("no complete runs found")
    versions = sorted({r.version for r in runs})
    models = sorted({_major_minor(v) for v in versions})
    if len(models) > 1:
        raise CompareError(f"runs come from incompatible model versions {', '.join(versions)} "
                           f"(major.minor differ: {', '.join(models)}); compare runs of one version")
    diseases = sorted({r.disease for r in runs})
    if len(diseases) > 1 and group_by != "disease":
        raise CompareError(f"runs mix disease presets ({', '.join(diseases)}); "
                           "pass --group-by disease to compare them side by side")
    warnings = []
    if len(versions) > 1:
        warnings.append(f"runs come from alsim {', '.join(versions)} (same model version {models[0]}; compared anyway)")
    commits = sorted({str((r.summary.get("provenance") or {}).get("git_commit") or "unknown")[:12] for r in runs})
    if len(commits) > 1:
        warnings.append(f"runs come from {len(commits)} git commits ({', '.join(commits)}); compared anyway")
    return warnings


# --------------------------------------------------------------------------- parameters
def override_key(override: str) -> str:
    """`+treatment.start_day=80` -> `treatment.start_day`."""
    return override.split("=", 1)[0].lstrip("+~")


def column_name(key: str) -> str:
    """Column for an override key: treatment parameters by their own name, otherwise dots -> `_`."""
    if key.startswith("treatment.") and key.split(".", 1)[1] in TREATMENT_PARAMS:
        return key.split(".", 1)[1]
    return key.replace(".", "_").replace("/", "_")


def typed(text: str) -> Any:
    """An override's value as int, float or bool where it is one (Hydra writes them as text)."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text.strip().strip("'\"")


def _lookup(config: dict[str, Any] | None, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def parameter_value(run: Run, key: str) -> Any:
    """The value this run used for an override key: resolved config first, then the override text."""
    if key == "disease":
        return run.disease
    if key == "uncertainty" or key.startswith("uncertainty."):
        return _uncertainty_value(run, key)
    value = _lookup(run.config, key)
    if isinstance(value, dict) and "name" in value:  # a config group (disease=…, domain=…): its option name
        return value["name"]
    if value is not None and not isinstance(value, (dict, list)):
        return value
    given = [o.split("=", 1)[1] for o in run.overrides if "=" in o and override_key(o) == key]
    return typed(given[-1]) if given else None


def _uncertainty_value(run: Run, key: str) -> Any:
    """The uncertainty group: its mode (none for a run from before it existed); its options only in a posterior run."""
    mode = "posterior" if run.summary.get("uncertainty") else "none"
    if key == "uncertainty":
        return mode
    return _lookup(run.config, key) if mode == "posterior" else None


def _is_model_key(key: str) -> bool:
    return key.split(".")[0].split("/")[0] not in NOT_MODEL_KEYS


def swept_keys(runs: list[Run]) -> list[str]:
    """Override keys whose value differs between runs (in the order they were first given)."""
    keys: list[str] = []
    for run in runs:
        for o in run.overrides:
            k = override_key(o)
            if "=" in o and _is_model_key(k) and k not in keys:
                keys.append(k)
    return [k for k in keys if len({repr(parameter_value(r, k)) for r in runs}) > 1]


# --------------------------------------------------------------------------- tables
def _run_ids(runs: list[Run]) -> list[str]:
    """Short, unique ids: each folder's path relative to the folders' common parent."""
    paths = [r.path.resolve() for r in runs]
    if len(paths) == 1:
        return [paths[0].name]
    common = Path(os.path.commonpath(paths))
    return [p.relative_to(common).as_posix() for p in paths]


def _checked(value: Any, key: str, kinds: type | tuple[type, ...], expected: str) -> Any:
    """`value` if it is one of `kinds` (true/false never counts as a number); else a malformed summary."""
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{key} is {type(value).__name__} {json.dumps(value)[:40]}, expected {expected}")
    return value


def _num(x: Any, key: str = "a value") -> float:
    """A number from summary.json (None -> NaN); anything else (text, list, true/false) is a malformed summary."""
    return math.nan if x is None else float(_checked(x, key, (int, float), "a number"))


def _typed(s: dict[str, Any], key: str, kind: type) -> Any:
    return _checked(s[key], key, kind, kind.__name__)


def summary_outcomes(s: dict[str, Any]) -> dict[str, Any]:
    """The scalar columns of one runs.parquet row, from summary.json (raises on a malformed one)."""
    t, effect = s["treatment"], s.get("effect") or {}
    row: dict[str, Any] = {"seed": _typed(s, "seed", int), "disease": _typed(s, "disease", str), "domain": s.get("domain"),
                           "version": _typed(s, "version", str), "config_hash": s.get("config_hash"), "clock": s.get("clock"),
                           "treatment_enabled": bool(t.get("enabled", s.get("effect") is not None))}
    for p in TREATMENT_PARAMS:
        value = t.get(p)
        row[p] = value if value is None else (int(value) if isinstance(value, int) and not isinstance(value, bool)
                                             else _num(value, f"treatment.{p}"))
    if t.get("offsets_days"):  # an irregular course (treatment.offsets_days): its days after start_day, space-separated
        row["offsets_days"] = " ".join(f"{_num(x, 'treatment.offsets_days'):g}" for x in t["offsets_days"])
    # the trial-design window of sim.eligibility (NaN: none); never a parameter of the simulation itself
    row["eligibility_max_days_from_onset"] = _num(t.get("eligibility_max_days_from_onset"),
                                                  "treatment.eligibility_max_days_from_onset")
    for arm in ("control", "treated"):
        outcomes = s["arms"].get(arm) or {}
        row.update({f"{arm}_{k}": _num(outcomes.get(k), f"arms.{arm}.{k}") for k in ARM_OUTCOMES})
    row.update({k: _num(effect.get(k), f"effect.{k}") for k in EFFECT_OUTCOMES})
    row.update({f"individual_{k}": _num((s.get("individual") or {}).get(k)) for k in INDIVIDUAL})
    row["horizon_days"] = _num((s.get("days") or [None])[-1])
    if u := s.get("uncertainty"):
        row.update({f"uncertainty_{k}": u[k] if k == "dominant" else _num(u[k], f"uncertainty.{k}") for k in UNCERTAINTY})
    return row


def _run_row(run: Run, run_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": run_id, "run_dir": str(run.path.resolve()), **params, **run.outcomes, "verified": run.verified}


def _tidy_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric parameter columns as numbers, text as strings, so queries can compare and sort."""
    for col in frame.columns:
        if frame[col].dtype == object:
            values = frame[col].dropna()
            if len(values) and all(isinstance(v, bool) for v in values):
                frame[col] = frame[col].astype("boolean")
            elif len(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                frame[col] = pd.to_numeric(frame[col])
            else:
                frame[col] = frame[col].astype("string")
    return frame


def build_dataset(runs: list[Run], group_by: str | None = None) -> Dataset:
    """The runs table (one row per run) and the timeseries table (run × arm × recorded day)."""
    keys = [k for k in swept_keys(runs) if k != "seed"]
    parameter_keys = {column_name(k): k for k in keys}
    parameter_keys.update({p: f"treatment.{p}" for p in TREATMENT_PARAMS})
    if group_by == "disease":
        parameter_keys.setdefault("disease", "disease")
    scenario_cols = list(parameter_keys)
    ids = _run_ids(runs)
    rows, series, cells = [], [], []
    for run, run_id in zip(runs, ids):
        params = {c: parameter_value(run, k) for c, k in parameter_keys.items() if c not in TREATMENT_PARAMS}
        row = _run_row(run, run_id, params)
        rows.append(row)
        if run.cells is not None:
            cells.append(run.cells.assign(run_id=run_id))
        ts = run.timeseries.copy()
        ids_part = {"run_id": run_id, **{c: row[c] for c in scenario_cols}, "seed": row["seed"],
                    **({"offsets_days": row["offsets_days"]} if "offsets_days" in row else {})}
        for i, (col, value) in enumerate(ids_part.items()):
            ts.insert(i, col, value)
        series.append(ts)
    runs_frame = _tidy_types(pd.DataFrame(rows)).sort_values([*scenario_cols, "seed", "run_id"], ignore_index=True)
    ts_frame = _tidy_types(pd.concat(series, ignore_index=True))
    ts_frame = ts_frame.sort_values([*scenario_cols, "seed", "run_id", "arm", "day"], ignore_index=True)
    return Dataset(runs_frame, ts_frame, scenario_cols, parameter_keys,
                   pd.concat(cells, ignore_index=True) if cells else None)


# --------------------------------------------------------------------------- writing
def write_parquet(frame: pd.DataFrame, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write via a temporary sibling and rename, with the non-clinical notice in the file metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {**(table.schema.metadata or {}), b"alsim.notice": sim.NOTICE.encode(),
            **{k.encode(): v.encode() for k, v in (metadata or {}).items()}}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table.replace_schema_metadata(meta), tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_dataset(dataset: Dataset, folder: Path) -> list[Path]:
    """`runs.parquet` and `timeseries.parquet` in folder; returns the paths written."""
    meta = {"alsim.scenario_columns": json.dumps(dataset.scenario_cols),
            "alsim.parameter_keys": json.dumps(dataset.parameter_keys)}
    out = [folder / "runs.parquet", folder / "timeseries.parquet"]
    write_parquet(dataset.runs, out[0], meta)
    write_parquet(dataset.timeseries, out[1], meta)
    return out
