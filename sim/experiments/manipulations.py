"""Model vs study for experiments that change the glial or immune environment of SOD1 rodents.

    python -m sim.experiments.manipulations                        # simulate the presets' equivalents, write the report
    python -m sim.experiments.manipulations multirun/manipulations/<date_time>   # from an `alsim -m +experiment=manipulations` sweep

Each row of experiments/calibration/manipulations.csv is a published experiment (a knock-out, a transplant, a
drug, a cell transfer) with what it did to survival, onset or progression, and — where the model can express it
— an in-silico equivalent (configs/manipulation/<preset>.yaml). The model's answer is the paired change in
the same virtual individuals, untouched vs manipulated, over a cohort of seeds; a row matches when the change
lies in the study's band (training rows, with numbers) or goes the study's way with p < 0.05 (a paired t-test
over the individuals; "none": less than 5 % of the control value). Training rows are fitted by the calibration;
held-out rows were fixed before the fit and are only ever compared here, afterwards.

Writes manipulations_report.md and manipulations_report.json under --out (default experiments/calibration).
NON-CLINICAL: a match says the model reproduces an experiment's direction or size, not that it is right.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim
from sim.config import ConfigError
from sim.experiments import calibrate
from sim.recorder import write_text_atomic

TABLE = Path(__file__).resolve().parents[2] / "experiments" / "calibration" / "manipulations.csv"
DEFAULT_SEEDS = "0-31"  # the validation individuals: the fit's cohort is seeds 1000 onwards
MODELLED_ROLES = ("training", "held-out")


def load_table(path: Path = TABLE) -> list[dict[str, str]]:
    """The rows of manipulations.csv (comment lines skipped)."""
    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def modelled(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["preset"] and r["role"] in MODELLED_ROLES]


def verdict(row: dict[str, str], change: dict[str, Any]) -> bool:
    """Whether the model's paired change matches the study's row."""
    if row["band_low_pct"] and row["band_high_pct"]:
        return math.isfinite(change["change"]) and float(row["band_low_pct"]) <= change["change"] <= float(row["band_high_pct"])
    return calibrate.direction_matches(change, row["direction"])


def compare(rows: list[dict[str, str]], cohorts: dict[str, list[dict]]) -> list[dict[str, Any]]:
    """One result per modelled row: the model's paired change against the untouched cohort and the verdict."""
    out = []
    for row in modelled(rows):
        change = calibrate.paired_change(cohorts["none"], cohorts[row["preset"]], row["outcome"])
        out.append({**{k: row[k] for k in ("id", "study", "preset", "outcome", "direction", "effect_pct", "band_low_pct",
                                           "band_high_pct", "role", "control", "manipulated", "n")},
                    "model": change, "matches": verdict(row, change)})
    return out


# --------------------------------------------------------------------------- cohorts
def simulate_cohorts(rows: list[dict[str, str]], seeds: list[int], overrides: list[str], workers: int) -> dict[str, list[dict]]:
    """The untouched cohort and one per preset the table uses, on the same individuals (untreated)."""
    from sim.presets import compose_config

    cfg = compose_config(["treatment=none", "domain=quick", *overrides])
    cohorts = {"none": calibrate.calibration_cohort(cfg, seeds, workers)}
    for preset in dict.fromkeys(r["preset"] for r in modelled(rows)):
        cohorts[preset] = calibrate.manipulated_cohort(cfg, preset, seeds, workers)
    return cohorts


def cohorts_from_runs(folders: list[Path]) -> dict[str, list[dict]]:
    """Per-individual read-outs of finished one-arm runs (an `+experiment=manipulations` sweep), by manipulation."""
    cohorts: dict[str, list[dict]] = {}
    for summary_path in sorted(p for folder in folders for p in Path(folder).rglob("summary.json")):
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        control = summary["arms"]["control"]
        ts = pd.read_parquet(summary_path.parent / "timeseries.parquet")
        ts = ts[ts["arm"] == "control"]
        activated = (ts["microglia_total"] - ts["microglia_surveillant"]) / max(int(ts["microglia_total"].iloc[0]), 1)
        onset, end = control["onset_days"], control["end_stage_days"]
        horizon = summary["days"][1]
        ill = (ts["day"] >= onset) & (ts["day"] <= (end if end is not None else horizon)) if onset is not None else ts["day"] < -np.inf
        cohorts.setdefault(summary.get("manipulation", "none"), []).append({
            "seed": summary["seed"], "onset_days": onset, "end_stage_days": end, "t50_days": control["t50_days"],
            "horizon_days": horizon, "activated_microglia_mean": float(activated[ill].mean()) if ill.any() else None})
    return cohorts


# --------------------------------------------------------------------------- report
def _fmt_change(c: dict[str, Any]) -> str:
    if not math.isfinite(c["change"]):
        return "—"
    bound = "≥ " if c["censored"] and c["change"] > 0 else ""
    return f"{bound}{c['change']:+.1f} {c['unit']} (SD {c['sd']:.1f}, p {c['p']:.2g}, n {c['n']})"


def _study(r: dict[str, Any]) -> str:
    if r["band_low_pct"]:
        return f"{float(r['effect_pct']):+.1f} % [{float(r['band_low_pct']):+.1f}, {float(r['band_high_pct']):+.1f}]"
    size = f", {float(r['effect_pct']):+.0f} %" if r["effect_pct"] else ""
    return f"{r['direction']}{size}"


def report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = ["# Manipulations of the glial and immune environment: model vs study", "", f"> {sim.NOTICE}", "",
             f"{meta['source']}. Each row compares the model's paired change (the same virtual individuals with and without "
             "the manipulation's in-silico equivalent) with what the study reported. *training*: fitted by the calibration "
             "(targets M-X1, M-X2); *held-out*: fixed before the fit, compared only here. A row matches when the change lies "
             "in the study's band, or goes the study's way with p < 0.05 (paired t-test), or — for \"none\" — stays under "
             f"{calibrate.CHANGE_NOT_DETECTED_PCT:g} % of the control value. Survival and progression changes are in % of the "
             "untouched mean; onset in days.", ""]
    for role in MODELLED_ROLES:
        part = [r for r in results if r["role"] == role]
        lines += [f"**{role}: {sum(r['matches'] for r in part)} of {len(part)} rows match.**", ""]
    lines += ["| row | study | in silico | outcome | study reported | model | matches | role |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['id']} | {r['study']} | `{r['preset']}` | {r['outcome']} | {_study(r)} | {_fmt_change(r['model'])} | "
                     f"{'yes' if r['matches'] else '**no**'} | {r['role']} |")
    lines += ["", "Rows of manipulations.csv without an in-silico equivalent are listed there with the reason."]
    return "\n".join(lines) + "\n"


def parse_seeds(text: str) -> list[int]:
    """Seeds from 'N' or 'N-M' (inclusive); ValueError otherwise."""
    lo, _, hi = text.partition("-")
    seeds = list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    if not seeds:
        raise ValueError
    return seeds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.experiments.manipulations", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="*", type=Path, help="finished run or sweep folders (default: simulate)")
    ap.add_argument("--seeds", default=DEFAULT_SEEDS, help="seeds to simulate, e.g. 0-31 (default %(default)s)")
    ap.add_argument("--out", type=Path, default=TABLE.parent, help="where the report goes (default %(default)s)")
    ap.add_argument("--workers", type=int, default=0, help="processes (0: all cores)")
    ap.add_argument("overrides", nargs=argparse.REMAINDER, help="after --: config overrides for the simulated cohorts")
    args = ap.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError:
        print(f"python -m sim.experiments.manipulations: error: --seeds={args.seeds} is invalid: expected N or N-M with N ≤ M", file=sys.stderr)
        return 2
    rows = load_table()
    overrides = [o for o in args.overrides if o != "--"]
    try:
        if args.runs:
            cohorts, source = cohorts_from_runs(args.runs), f"From the runs in {', '.join(map(str, args.runs))}"
        else:
            cohorts = simulate_cohorts(rows, seeds, overrides, args.workers)
            source = (f"Simulated: the SOD1-G93A mouse preset, quick domain, untreated, seeds {args.seeds} (individuals the fit "
                      f"never used){' with ' + ' '.join(overrides) if overrides else ''}")
    except ConfigError as exc:
        print(f"python -m sim.experiments.manipulations: error: {exc}", file=sys.stderr)
        return 2
    missing = sorted({r["preset"] for r in modelled(rows)} - set(cohorts)) + ([] if "none" in cohorts else ["none"])
    if missing:
        print(f"python -m sim.experiments.manipulations: error: no runs for manipulation(s) {', '.join(missing)}", file=sys.stderr)
        return 2
    results = compare(rows, cohorts)
    meta = {"source": source, "seeds": args.seeds, "version": sim.__version__, "overrides": overrides}
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "manipulations_report.json",
                      json.dumps({"non_clinical": True, "notice": sim.NOTICE, **meta, "results": results}, indent=1) + "\n")
    text = report(results, meta)
    write_text_atomic(args.out / "manipulations_report.md", text)
    print(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
