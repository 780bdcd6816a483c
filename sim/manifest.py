"""Run manifests: catch edited, truncated or non-finite result files before anything reads them.

Every run folder gets `manifest.json`, written just before `summary.json` (which stays last and so
still marks a finished run). It lists the sha256 and size of each data file *and of summary.json*:
the summary's text is fixed before any file is written, so its hash can be recorded ahead of it.
Editing a number in summary.json (say `effect.t50_delay_days`), truncating a Parquet file or
swapping in another run's file therefore fails verification.

A manifest guards against accidents and careless edits, not against someone who rewrites the
manifest too (it is not signed). A folder written before manifests existed has none: it is read,
but marked "unverified" wherever it is used.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
DATA_FILES = ("timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz")
FORMAT = 1
_CHUNK = 2**20

VERIFIED, UNVERIFIED, CORRUPT = "verified", "unverified", "corrupt"


class CorruptRun(ValueError):
    """A run folder whose files do not match its manifest, or whose summary holds a non-finite number."""


@dataclass(frozen=True)
class Check:
    """The outcome of verifying one run folder."""

    status: str  # verified, unverified (no manifest) or corrupt
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status != CORRUPT


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def build(folder: Path, summary_text: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The manifest of the data files already in `folder` (DATA_FILES, then the run's `extra` files, e.g. a posterior
    run's uncertainty.parquet) and of the summary text about to be written."""
    files = {rel: {"sha256": sha256_file(folder / rel), "bytes": (folder / rel).stat().st_size} for rel in (*DATA_FILES, *extra)}
    data = summary_text.encode("utf-8")
    files[SUMMARY] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return {"format": FORMAT, "files": files}


def manifest_text(folder: Path, summary_text: str, extra: tuple[str, ...] = ()) -> str:
    return json.dumps(build(folder, summary_text, extra), indent=2, sort_keys=True) + "\n"


def _reject_constant(name: str) -> float:
    raise CorruptRun(f"summary.json holds a non-finite number ({name})")


def load_summary(path: Path) -> dict[str, Any]:
    """summary.json parsed strictly: NaN and ±Infinity (which json accepts) are corruption, not numbers."""
    text = path.read_text(encoding="utf-8")
    summary = json.loads(text, parse_constant=_reject_constant)
    _check_finite(summary)
    return summary


def _check_finite(node: Any, where: str = "") -> None:
    """Overflowing literals such as 1e999 parse to inf without going through parse_constant."""
    if isinstance(node, float) and not math.isfinite(node):
        raise CorruptRun(f"summary.json holds a non-finite number at {where or 'top level'}")
    if isinstance(node, dict):
        for k, v in node.items():
            _check_finite(v, f"{where}.{k}" if where else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_finite(v, f"{where}[{i}]")


def verify(folder: Path) -> Check:
    """Check a finished run folder against its manifest (every listed file's size and sha256)."""
    folder = Path(folder)
    try:
        load_summary(folder / SUMMARY)
    except CorruptRun as exc:
        return Check(CORRUPT, str(exc))
    except (OSError, ValueError) as exc:
        return Check(CORRUPT, f"summary.json cannot be read ({type(exc).__name__})")
    path = folder / MANIFEST
    if not path.exists():
        return Check(UNVERIFIED, "no manifest.json (written before manifests existed, or by hand)")
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        expected = {str(rel): (str(v["sha256"]), int(v["bytes"])) for rel, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return Check(CORRUPT, f"manifest.json cannot be read ({type(exc).__name__})")
    missing = [rel for rel in (*DATA_FILES, SUMMARY) if rel not in expected]
    if missing:
        return Check(CORRUPT, f"manifest.json does not list {', '.join(missing)}")
    for rel, (digest, size) in sorted(expected.items()):
        reason = _file_problem(folder, rel, digest, size)
        if reason:
            return Check(CORRUPT, reason)
    return Check(VERIFIED)


def _file_problem(folder: Path, rel: str, digest: str, size: int) -> str | None:
    target = (folder / rel)
    if ".." in Path(rel).parts or Path(rel).is_absolute():
        return f"manifest.json names a file outside the run folder ({rel})"
    try:
        actual_size = target.stat().st_size
        if actual_size != size:
            return f"{rel} has {actual_size} bytes, the manifest says {size} (truncated or replaced)"
        if sha256_file(target) != digest:
            return f"{rel} differs from the manifest (edited or replaced)"
    except OSError:
        return f"{rel} is missing or unreadable"
    return None
