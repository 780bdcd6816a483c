"""Bad input everywhere a user types: `alsim` overrides, experiment presets and `alsim-compare` arguments.

Property-based tests (hypothesis) throw generated bad values at the config layer in this process
(`compose_config`, as `alsim` composes a run, and `validate`, as library callers do): every one must end
in a `ConfigError` whose message is one line naming the key (and the allowed range, where there is one).
A few real `alsim` processes then check what a user sees: exit code 2, one line on stderr, no traceback,
and no run folder or result file. Valid edge values must run.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim.help import all_keys
from sim.presets import compose_config, group_options
from sim.config import ConfigError, SimConfig, _fmt, available_memory_bytes, iter_params, validate
from sim.experiments import compare, sweep

ALSIM = Path(sys.executable).parent / "alsim"
RESULT_FILES = ("summary.json", "timeseries.parquet")
# Composing a config the way `alsim` does costs ~0.1-0.3 s, checking one with `validate` microseconds: many
# examples go straight to `validate`, fewer through `compose_config` (the command line's text path).
MANY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every bounded numeric parameter: (dotted key, low, high, integer?)
BOUNDED = [(key, *f.metadata["bounds"], isinstance(f.default, int) and not isinstance(f.default, bool))
           for key, f, _ in iter_params(SimConfig()) if f.metadata.get("bounds") is not None]
# settings that are off (null) by default, e.g. treatment.eligibility_max_days_from_onset: null is a value they take
OPTIONAL = {key for key, f, _ in iter_params(SimConfig()) if f.default is None}
FLOAT_KEYS = [b for b in BOUNDED if not b[3]]
INT_KEYS = [b for b in BOUNDED if b[3]]
SECTIONS = {f.name: getattr(SimConfig(), f.name) for f in dataclasses.fields(SimConfig)}


def refused(overrides: list[str]) -> str:
    """The one-line message `alsim` would print for these overrides (fails the test if they are accepted)."""
    with pytest.raises(ConfigError) as info:
        compose_config(overrides)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message, repr(message)
    assert "Traceback" not in message
    return message


def refused_by_validate(cfg: SimConfig) -> str:
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    message = str(info.value)
    assert "\n" not in message and message, repr(message)
    return message


def with_value(key: str, value, cfg: SimConfig | None = None) -> SimConfig:
    """A default config (or `cfg`) with one dotted key set to `value`, as a library caller would."""
    cfg = cfg or SimConfig()
    section, _, name = key.rpartition(".")
    node = cfg
    for part in section.split(".") if section else []:
        node = getattr(node, part)
    setattr(node, name, value)
    return cfg


def number(x: float | int) -> str:
    """An override's text for a number (repr round-trips: 1e+20, -5e-324, nan, inf)."""
    return repr(x) if isinstance(x, int) else repr(float(x))


def range_text(lo, hi) -> str:
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


# =========================================================================== out of range, NaN, inf
@st.composite
def out_of_range(draw):
    key, lo, hi, whole = draw(st.sampled_from(BOUNDED))
    below = st.integers(max_value=lo - 1) if whole else st.floats(max_value=lo, exclude_max=True, allow_nan=False,
                                                                  allow_infinity=False)
    options = [below]
    if not math.isinf(hi):
        options.append(st.integers(min_value=hi + 1, max_value=hi + 10**30) if whole else
                       st.floats(min_value=hi, exclude_min=True, allow_nan=False, allow_infinity=False))
    return key, lo, hi, whole, draw(st.one_of(options))


@MANY
@given(out_of_range())
def test_out_of_range_values_name_the_key_and_the_range(case):
    key, lo, hi, whole, value = case
    message = refused_by_validate(with_value(key, value))
    assert message.startswith(f"{key}="), message
    assert f"allowed range is {'an integer' if whole else 'a finite number'} in {range_text(lo, hi)}" in message


@FEW
@given(out_of_range())
def test_out_of_range_values_on_the_command_line(case):
    key, lo, hi, whole, value = case
    message = refused([f"{key}={number(value)}"])
    assert message.startswith(f"{key}="), message
    assert f"allowed range is {'an integer' if whole else 'a finite number'} in {range_text(lo, hi)}" in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("param", FLOAT_KEYS, ids=[b[0] for b in FLOAT_KEYS])
def test_nan_and_infinite_values_are_refused(param, value):
    key, lo, hi, _ = param
    message = refused_by_validate(with_value(key, value))
    assert message.startswith(f"{key}=") and f"allowed range is a finite number in {range_text(lo, hi)}" in message


@FEW
@given(st.sampled_from(FLOAT_KEYS), st.sampled_from(["nan", "inf", "-inf", "1e400", "-1e400"]))
def test_nan_and_infinite_values_on_the_command_line(param, text):
    key, lo, hi, _ = param
    message = refused([f"{key}={text}"])
    assert message.startswith(f"{key}=") and f"allowed range is a finite number in {range_text(lo, hi)}" in message


# =========================================================================== wrong types
WRONG_TYPE = st.one_of(
    st.text(alphabet=string.ascii_letters, min_size=1, max_size=12).filter(
        lambda s: s.lower() not in ("nan", "inf", "infinity", "true", "false", "null")),
    st.lists(st.integers(-5, 5), min_size=0, max_size=3).map(lambda xs: "[" + ",".join(map(str, xs)) + "]"),
    st.just("{a:1}"),
    st.just("null"),
)


@FEW
@given(st.sampled_from(BOUNDED), WRONG_TYPE)
def test_wrong_types_on_the_command_line_name_the_key(param, text):
    key = param[0]
    assume(not (text == "null" and key in OPTIONAL))
    message = refused([f"{key}={text}"])
    assert message.startswith(f"{key}="), message
    assert "is invalid" in message


@FEW
@given(st.sampled_from(INT_KEYS), st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not float(x).is_integer()))
def test_fractions_for_integer_parameters_are_refused(param, value):
    key = param[0]
    message = refused([f"{key}={value!r}"])
    assert message.startswith(f"{key}=") and "Integer" in message


@MANY
@given(st.sampled_from(BOUNDED), st.one_of(st.text(max_size=8), st.lists(st.floats(), max_size=3), st.booleans(),
                                            st.none(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                                            st.just(math.nan), st.just(math.inf), st.just(-math.inf)))
def test_wrong_types_built_in_python_name_the_key(param, value):
    """Library callers (the dashboard, calibration, sensitivity designs) build configs in Python: `validate` refuses."""
    key, lo, hi, whole = param
    assume(not (value is None and key in OPTIONAL))
    message = refused_by_validate(with_value(key, value))
    assert message.startswith(f"{key}=") and range_text(lo, hi) in message, message


def test_numpy_numbers_are_accepted_by_validate():
    cfg = SimConfig()
    cfg.treatment.n_infusions = np.int64(2)
    cfg.treatment.dose_cells_per_kg = np.float64(1e6)
    cfg.seed = np.uint32(7)
    assert validate(cfg) is cfg


# =========================================================================== unknown keys
IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)


@FEW
@given(st.sampled_from(sorted(k for k, v in SECTIONS.items() if dataclasses.is_dataclass(v))), IDENT,
       st.sampled_from(["", "+", "++"]))
def test_unknown_keys_are_refused_at_any_depth(section, name, plus):
    assume(name not in {f.name for f in dataclasses.fields(SECTIONS[section])})
    message = refused([f"{plus}{section}.{name}=1"])
    found = re.fullmatch(rf"{section}\.{name} is not a known parameter(?: \(did you mean ([\w.]+)\?\))? "
                         r"\(the full list is in docs/parameters\.md\)", message)
    assert found, message
    if found.group(1):  # a suggestion is a real key of the same section
        assert found.group(1).rpartition(".")[0] == section and found.group(1) in all_keys()


@FEW
@given(IDENT, st.sampled_from(["", "+"]))
def test_unknown_root_keys_are_refused(name, plus):
    assume(name not in SECTIONS and name not in ("hydra", "experiment"))
    message = refused([f"{plus}{name}=1"])
    assert message.startswith(name) and "not a known parameter" in message


@pytest.mark.parametrize("overrides, expected", [
    (["~seed"], "~seed is invalid: a parameter cannot be deleted"),
    (["~treatment.dose_cells_per_kg"], "~treatment.dose_cells_per_kg is invalid: a parameter cannot be deleted"),
    (["msc.pathways=abc"], "msc.pathways=abc is invalid: msc.pathways is a group of parameters"),
    (["msc=3"], "msc=3 is invalid: msc is a group of parameters"),
    (["treatment.dose_cells_per_kg=null"], "treatment.dose_cells_per_kg=null is invalid: a value is required"),
    (["engine=[1]"], "engine=[1] is invalid: expected a value of type str"),
    (["engine=fast"], "engine='fast' is invalid: allowed values are vectorized, agents"),
    (["disease.species=cat"], "disease.species='cat' is invalid: allowed values are mouse, human"),
    (["disease=rat"], "disease=rat is invalid: allowed values are human_sporadic, sod1_g93a_mouse"),
    (["+experiment=nope"], "experiment=nope is invalid: allowed values are "),
    (["experiment=dose_timing"], "experiment=dose_timing is invalid: a preset is added with a plus, +experiment=dose_timing"),
    (["seed=range(0,3)"], "seed=range(0,3)"),
])
def test_structural_mistakes_give_one_clear_line(overrides, expected):
    assert expected in refused(overrides)


# =========================================================================== cross-field rules
@MANY
@given(st.floats(31, 1e5), st.floats(0, 1), st.booleans())
def test_treatment_start_at_or_after_the_horizon_is_refused(horizon, where, before_start):
    """Any first infusion day outside [disease start, horizon) of a valid disease course."""
    start = 30 * where if before_start else horizon + (1e5 - horizon) * where
    assume(not 30 <= start < horizon)
    cfg = with_value("treatment.start_day", start, with_value("disease.horizon_days", horizon))
    message = refused_by_validate(cfg)
    assert message.startswith("treatment.start_day=") and f"allowed range is [30, {horizon:g})" in message


@FEW
@given(st.floats(31, 1000), st.data())
def test_treatment_start_after_the_horizon_on_the_command_line(horizon, data):
    start = data.draw(st.floats(horizon, 1e5))
    message = refused(["domain=quick", f"disease.horizon_days={horizon!r}", f"treatment.start_day={start!r}"])
    assert message.startswith("treatment.start_day=") and f"allowed range is [30, {horizon:g})" in message


@MANY
@given(st.integers(2, 1000), st.floats(1e6, 1e8))
def test_interval_zero_with_several_infusions_is_refused(n, dose):
    cfg = with_value("treatment.interval_days", 0.0, with_value("treatment.n_infusions", n))
    message = refused_by_validate(with_value("treatment.dose_cells_per_kg", dose, cfg))
    assert message == "treatment.interval_days=0 is invalid: allowed range is > 0 when treatment.n_infusions > 1"


def test_interval_zero_with_several_infusions_on_the_command_line():
    message = refused(["treatment.n_infusions=3", "treatment.interval_days=0"])
    assert message == "treatment.interval_days=0 is invalid: allowed range is > 0 when treatment.n_infusions > 1"


@MANY
@given(st.floats(2e5, 1e6), st.floats(2e5, 1e6), st.floats(1, 10))
def test_a_grid_that_would_not_fit_in_memory_is_refused(width, height, voxel):
    assert (width / voxel) * (height / voxel) * 576 > available_memory_bytes() // 4  # (the premise: too big here)
    cfg = with_value("domain.voxel_um", voxel, with_value("domain.height_um", height, with_value("domain.width_um", width)))
    message = refused_by_validate(cfg)
    assert message.startswith("domain.width_um=") and "allowed is at most" in message and "voxels" in message


def test_a_grid_that_would_not_fit_in_memory_on_the_command_line():
    message = refused(["domain.width_um=1e6", "domain.height_um=1e6", "domain.voxel_um=1"])
    assert message.startswith("domain.width_um=") and "allowed is at most" in message


def test_a_course_of_too_many_cells_is_refused():
    message = refused(["disease=human_sporadic", "treatment.dose_cells_per_kg=1e10", "treatment.n_infusions=2"])
    assert message.startswith("treatment.dose_cells_per_kg=") and "1e12 cells" in message


# =========================================================================== experiment presets
PRESETS = group_options("experiment")
GROUP_DIRS = {p.name for p in (Path(__file__).resolve().parent.parent / "configs").iterdir() if p.is_dir()}


def preset_sweep(name: str) -> dict[str, list]:
    """The values a preset sweeps, per key: every listed value; both ends of an interval (an optimizer's range)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType
    from omegaconf import OmegaConf

    from sim.presets import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"+experiment={name}"], return_hydra_config=True)
        params = cfg.hydra.sweeper.get("params")
        params = OmegaConf.to_container(params) if params is not None else {}
    out = {}
    for o in OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()]):
        if o.value_type == ValueType.INTERVAL_SWEEP:
            out[o.get_key_element()] = [o.value().start, o.value().end]
        elif o.is_sweep_override():
            out[o.get_key_element()] = list(o.sweep_iterator())
        else:
            out[o.get_key_element()] = [o.value()]
    return out


# The two sweep presets over config groups are checked the way `alsim -m` checks them before any job, every value
# alone and every pair (`sweep.check_values`), in the quick loop by test_knockouts.py and test_manipulations.py.
SWEEP_CHECKED_ELSEWHERE = ("knockouts", "manipulations")


@pytest.mark.parametrize("name", [pytest.param(p, marks=pytest.mark.slow) if p in SWEEP_CHECKED_ELSEWHERE else p
                                  for p in PRESETS])
def test_every_value_every_preset_sweeps_is_valid(name):
    """Each preset composes, and each value it sweeps is valid on top of it (set one at a time, as `alsim -m` would)."""
    base = compose_config([f"+experiment={name}"])
    values = preset_sweep(name)
    for key, options in values.items():
        for value in options:
            if key in GROUP_DIRS:  # a config group (knockout=homing, …): compose it as `alsim -m` would
                try:
                    compose_config([f"+experiment={name}", f"{key}={value}"])
                except ConfigError as exc:
                    pytest.fail(f"+experiment={name} sweeps {key}={value}, which is refused: {exc}")
                continue
            cfg = copy.deepcopy(base)
            current = functools.reduce(getattr, key.split("."), cfg)
            typed = type(current)(value) if isinstance(current, (int, float)) and not isinstance(current, bool) else value
            try:
                validate(with_value(key, typed, cfg))
            except ConfigError as exc:
                pytest.fail(f"+experiment={name} sweeps {key}={value}, which is refused: {exc}")


@pytest.mark.parametrize("name", ["dose_timing", "repeat_dosing"])
def test_a_bad_value_on_top_of_a_preset_is_refused(name):
    message = refused([f"+experiment={name}", "treatment.dose_cells_per_kg=-1"])
    assert message.startswith("treatment.dose_cells_per_kg=-1.0 is invalid: allowed range")


def test_a_bad_swept_value_with_a_preset_is_refused_before_the_sweep():
    with pytest.raises(ConfigError, match=r"^treatment\.interval_days=0 is invalid"):
        sweep.check_values(["+experiment=repeat_dosing", "treatment.n_infusions=2", "treatment.interval_days=7,0"])


# =========================================================================== alsim-compare arguments
@pytest.mark.parametrize("args, expected", [
    (["--seed", "x"], "argument --seed: 'x' is invalid: expected an integer in [0, 9223372036854775807]"),
    (["--seed", "-1"], "argument --seed: '-1' is invalid: allowed range is [0, 9223372036854775807]"),
    (["--seed", str(2**70)], "argument --seed: "),
    (["--group-by", "dose"], "argument --group-by: invalid choice: 'dose'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    ([], "the following arguments are required: DIR"),
])
def test_bad_compare_arguments_give_one_line(tmp_path, capsys, args, expected):
    (tmp_path / "runs").mkdir()
    with pytest.raises(SystemExit) as info:
        compare.main([*args, *([str(tmp_path / "runs")] if args else [])])
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("alsim-compare: error: ") and expected in err, err
    assert [p for p in tmp_path.rglob("*")] == [tmp_path / "runs"]


@pytest.mark.parametrize("make, expected", [
    (lambda root: root / "missing", "does not exist"),
    (lambda root: (root / "file.txt").write_text("x") and root / "file.txt", "is not a folder"),
])
def test_bad_compare_folders_give_one_line(tmp_path, capsys, make, expected):
    with pytest.raises(SystemExit) as info:
        compare.main([str(make(tmp_path))])
    _, err = capsys.readouterr()
    assert info.value.code == 2 and len(err.splitlines()) == 1 and expected in err


def test_compare_out_under_a_file_is_refused_before_writing(short_run, tmp_path, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(short_run, runs / "run")
    (tmp_path / "file").write_text("x")
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as info:
        compare.main([str(runs), "--out", str(tmp_path / "file" / "out")])
    _, err = capsys.readouterr()
    assert info.value.code == 2 and len(err.splitlines()) == 1 and f"{tmp_path / 'file'} is a file" in err
    assert sorted(p for p in tmp_path.rglob("*")) == before


# =========================================================================== the real command line
BAD_CLI = {
    # id: (overrides, what the line must contain)
    "nan_dose": (["treatment.dose_cells_per_kg=nan"], "treatment.dose_cells_per_kg=nan is invalid: allowed range is a finite number in [0, 1e+10]"),
    "string_for_number": (["fields.tnf_half_life_h=abc"], "fields.tnf_half_life_h=abc is invalid: expected a value of type Float"),
    "unknown_nested_key": (["+treatment.foo=1"], "treatment.foo is not a known parameter"),
}


class Cli:
    def __init__(self, cwd: Path, args: list[str]):
        cwd.mkdir(parents=True, exist_ok=True)
        self.cwd = cwd
        self.proc = subprocess.Popen([str(ALSIM), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8")

    def result(self) -> subprocess.CompletedProcess:
        out, err = self.proc.communicate(timeout=300)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory, short_run):
    """Every real `alsim` process of this module, started at once (they check in parallel)."""
    base = tmp_path_factory.mktemp("cli")
    quick = ["domain=quick", "disease.horizon_days=40", "treatment.start_day=35"]  # valid but for the bad value
    runs = {name: Cli(base / name, [*quick, *ov, f"hydra.run.dir={base / name / 'run'}"]) for name, (ov, _) in BAD_CLI.items()}
    (base / "under_file").mkdir()
    (base / "under_file" / "a_file").write_text("not a folder")
    runs["under_file"] = Cli(base / "under_file", [*quick, f"hydra.run.dir={base / 'under_file' / 'a_file' / 'run'}"])
    runs["sweep_under_file"] = Cli(base / "under_file", ["-m", "seed=0,1", *quick,
                                                         f"hydra.sweep.dir={base / 'under_file' / 'a_file' / 'sweep'}"])
    earlier = shutil.copytree(short_run, base / "earlier" / "run")
    runs["earlier"] = Cli(base / "earlier", [*quick, f"hydra.run.dir={earlier}"])
    # the human clock's day 0 as the first infusion; the simulation starts 3 days before it, not the preset's 1 095
    runs["edge_human_day0"] = Cli(base / "edge_human_day0", [
        "disease=human_sporadic", "domain=quick", "disease.start_day=-3", "disease.horizon_days=12", "treatment.start_day=0",
        "treatment.n_infusions=1", f"hydra.run.dir={base / 'edge_human_day0' / 'run'}"])
    runs["edge_mouse_top_dose"] = Cli(base / "edge_mouse_top_dose", [
        "domain=quick", "disease.horizon_days=33", "treatment.start_day=30", "treatment.dose_cells_per_kg=1e10",
        f"hydra.run.dir={base / 'edge_mouse_top_dose' / 'run'}"])
    yield base, runs
    for run in runs.values():
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


def result_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name in RESULT_FILES]


def assert_one_line_refusal(r: subprocess.CompletedProcess, expected: str) -> None:
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("alsim: error: ") and expected in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout and r.stdout == ""


@pytest.mark.parametrize("case", list(BAD_CLI))
def test_cli_refuses_bad_values_with_one_line_and_writes_nothing(cli_runs, case):
    base, runs = cli_runs
    assert_one_line_refusal(runs[case].result(), BAD_CLI[case][1])
    assert list((base / case).rglob("*")) == []


def test_cli_refuses_a_run_folder_under_a_regular_file(cli_runs):
    base, runs = cli_runs
    assert_one_line_refusal(runs["under_file"].result(), f"{base / 'under_file' / 'a_file'} is a file, not a folder")
    assert [p.name for p in (base / "under_file").rglob("*")] == ["a_file"]


def test_cli_refuses_a_sweep_folder_under_a_regular_file(cli_runs):
    base, runs = cli_runs
    r = runs["sweep_under_file"].result()
    assert_one_line_refusal(r, f"hydra.sweep.dir={base / 'under_file' / 'a_file' / 'sweep'} is invalid: "
                               f"{base / 'under_file' / 'a_file'} is a file, not a folder")
    assert [p.name for p in (base / "under_file").rglob("*")] == ["a_file"]


def test_cli_refuses_to_overwrite_an_earlier_run(cli_runs, short_run):
    base, runs = cli_runs
    assert_one_line_refusal(runs["earlier"].result(), "already holds a finished run (summary.json)")
    earlier = base / "earlier" / "run"
    for f in short_run.rglob("*"):
        if f.is_file():
            assert (earlier / f.relative_to(short_run)).read_bytes() == f.read_bytes(), f


def test_cli_runs_valid_edge_values(cli_runs):
    base, runs = cli_runs
    for name, infusion_days in (("edge_human_day0", [0.0]), ("edge_mouse_top_dose", [30.0])):
        r = runs[name].result()
        assert r.returncode == 0, r.stderr[-2000:]
        summary = json.loads((base / name / "run" / "summary.json").read_text(encoding="utf-8"))
        assert summary["treatment"]["infusion_days"] == infusion_days
        assert summary["arms"]["treated"]["infusion_days"] == infusion_days
        assert "Traceback" not in r.stderr
