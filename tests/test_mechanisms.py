"""Mechanism tests: the direction of every modelled effect, on pure rules and on small real models.

Pure rule functions (`sim.agents.motor_neuron`, `sim.agents.microglia`) are exercised on controlled
inputs; whole-model checks use a 0.16 mm² patch simulated over days 60–120 (about a second per arm).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sim.agents import microglia as mg
from sim.agents import motor_neuron as mn
from sim.config import MicrogliaConfig, NeuronConfig, SimConfig, validate
from sim.run import run_arm, simulate

NP = NeuronConfig()
MP = MicrogliaConfig()
MSC_COLUMNS = ("msc_blood", "msc_lung", "msc_tissue", "msc_cleared", "msc_infused")


# =========================================================================== helpers
def small_config(seed: int = 0, start: float = 60.0, horizon: float = 120.0) -> SimConfig:
    """Default parameters on a 400 µm × 400 µm patch (25 µm voxels), days `start`–`horizon`."""
    cfg = SimConfig()
    cfg.seed = seed
    cfg.domain.width_um = cfg.domain.height_um = 400.0
    cfg.domain.voxel_um = 25.0
    cfg.disease.start_day = start
    cfg.disease.horizon_days = horizon
    return cfg


def frame(record) -> pd.DataFrame:
    return pd.DataFrame(record.rows)


def total_health(df: pd.DataFrame) -> pd.Series:
    """Σ health over all neurons (dead neurons count 0), per recorded day."""
    return df["mn_mean_health"] * df["mn_alive"]


def assert_same_outcome(a, b, *, ignore_columns=("arm",), ignore_msc_agents=False, compare_ids=True) -> None:
    """Two ArmRecords are identical: timeseries rows, deaths, field snapshots and agent snapshots."""
    fa = frame(a).drop(columns=list(ignore_columns))
    fb = frame(b).drop(columns=list(ignore_columns))
    pd.testing.assert_frame_equal(fa, fb, check_exact=True)
    np.testing.assert_array_equal(a.death_days, b.death_days)
    assert a.snapshot_days == b.snapshot_days
    assert len(a.field_frames) == len(b.field_frames)
    for x, y in zip(a.field_frames, b.field_frames):
        np.testing.assert_array_equal(x, y)

    def agents(r):
        rows = [row[1:] for row in r.agent_rows if not (ignore_msc_agents and row[2] == "msc")]
        if not compare_ids:  # drop agent_id (ids are global to a model, so extra agents shift later ids)
            rows = [row[:2] + row[3:] for row in rows]
        return rows

    ra, rb = agents(a), agents(b)
    assert len(ra) == len(rb)
    assert all(pd.isna(x) and pd.isna(y) or x == y for u, v in zip(ra, rb) for x, y in zip(u, v))


# =========================================================================== motor neurons
INPUT_NAMES = ("tnf", "il1b", "ros", "glutamate_excess", "bdnf", "gdnf")
HALF = {"tnf": NP.k_tnf_pm, "il1b": NP.k_il1b_pm, "ros": NP.k_ros_nm, "glutamate_excess": NP.k_glutamate_um,
        "bdnf": NP.k_bdnf_pm, "gdnf": NP.k_gdnf_pm}


def _base_inputs(n: int = 400, seed: int = 1) -> dict[str, np.ndarray]:
    """Random environments: every input between 0 and 10× its half-maximal concentration."""
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(0.0, 10.0, n) * HALF[k] for k in INPUT_NAMES}


def _rate(inputs: dict, drive=0.02, vulnerability=1.0, p: NeuronConfig = NP, blood=0.0):
    return mn.damage_rate(drive, vulnerability, *(inputs[k] for k in INPUT_NAMES), blood, p)


@pytest.mark.parametrize("name", ["tnf", "il1b", "ros", "glutamate_excess"])
def test_damage_rate_increases_strictly_with_each_toxic_input(name):
    base = _base_inputs()
    r0 = _rate(base)
    for extra in (0.01, 1.0, 10.0):
        more = dict(base, **{name: base[name] + extra * HALF[name]})
        assert np.all(_rate(more) > r0), f"damage rate did not rise with {name}"
    # and from zero: the input matters at all
    zero = dict(base, **{name: np.zeros_like(base[name])})
    assert np.all(_rate(base)[base[name] > 0] > _rate(zero)[base[name] > 0])


@pytest.mark.parametrize("name", ["bdnf", "gdnf"])
def test_damage_rate_decreases_strictly_with_trophic_support(name):
    base = _base_inputs()
    r0 = _rate(base)
    for extra in (0.01, 1.0, 10.0):
        more = dict(base, **{name: base[name] + extra * HALF[name]})
        assert np.all(_rate(more) < r0), f"damage rate did not fall with {name}"
    # protection is bounded: even saturating BDNF and GDNF leave (1 − P_max) of the damage
    sat = dict(base, bdnf=np.full(len(r0), 1e9 * NP.k_bdnf_pm), gdnf=np.full(len(r0), 1e9 * NP.k_gdnf_pm))
    none = dict(base, bdnf=np.zeros(len(r0)), gdnf=np.zeros(len(r0)))
    np.testing.assert_allclose(_rate(sat) / _rate(none), 1.0 - NP.trophic_max_protection, rtol=1e-6)


def test_damage_rate_is_zero_without_intrinsic_drive():
    base = _base_inputs()
    assert np.all(_rate(base, drive=0.0) == 0.0)
    assert np.all(_rate(base, drive=1e-3) > 0.0)


def test_damage_rate_scales_with_vulnerability():
    base = _base_inputs()
    r1 = _rate(base, vulnerability=1.0)
    for v in (0.0, 0.3, 2.0, 7.5):
        np.testing.assert_allclose(_rate(base, vulnerability=v), v * r1, rtol=1e-12, atol=0)
    # per-neuron vulnerability arrays broadcast elementwise
    v = np.linspace(0.1, 3.0, len(r1))
    np.testing.assert_allclose(_rate(base, vulnerability=v), v * r1, rtol=1e-12)


def test_the_glial_gain_scales_exactly_the_inflammatory_amplification():
    base = dict(_base_inputs(), bdnf=np.zeros(400), gdnf=np.zeros(400))
    rates = {g: _rate(base, p=dataclasses.replace(NP, glial_gain=g)) / 0.02 for g in (0.0, 1.0, 4.0)}
    np.testing.assert_allclose(rates[0.0], 1.0, rtol=1e-12)  # no glial term: the intrinsic drive alone
    np.testing.assert_allclose(rates[4.0] - 1.0, 4.0 * (rates[1.0] - 1.0), rtol=1e-9)


def test_blood_derived_products_amplify_damage_linearly_with_their_weight():
    zero = {k: np.zeros(3) for k in INPUT_NAMES}
    b = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(_rate(zero, blood=b), 0.02 * (1.0 + NP.w_blood * b), rtol=1e-12)
    np.testing.assert_array_equal(_rate(zero, blood=b, p=dataclasses.replace(NP, w_blood=0.0)), 0.02)


def test_damage_rate_without_environment_is_vulnerability_times_drive():
    zero = {k: np.zeros(3) for k in INPUT_NAMES}
    np.testing.assert_allclose(_rate(zero, drive=0.02, vulnerability=np.array([0.5, 1.0, 2.0])), [0.01, 0.02, 0.04])


def test_update_health_floors_at_zero_and_reports_deaths_exactly_at_zero():
    rng = np.random.default_rng(3)
    n = 5000
    health = rng.uniform(0.0, 1.0, n)
    alive = rng.random(n) < 0.8
    health[~alive] = 0.0
    health[:50] = 1e-12  # almost dead
    alive[:50] = True
    rate = rng.exponential(2.0, n)  # per day; some neurons lose more than their remaining health
    rate[50:60] = 0.0
    for dt in (1 / 24, 0.25, 1.0):
        new, died = mn.update_health(health, alive, rate, dt)
        assert new.shape == health.shape and died.dtype == bool
        assert np.all(new >= 0.0)
        np.testing.assert_array_equal(died, alive & (new == 0.0))
        assert died.any() and (alive & ~died).any()
        # the living lose exactly rate·dt unless that would take them below 0
        np.testing.assert_allclose(new[alive], np.maximum(health[alive] - rate[alive] * dt, 0.0))
        # the dead are untouched and never reported again
        np.testing.assert_array_equal(new[~alive], health[~alive])
        assert not died[~alive].any()
        # zero rate: nobody changes, nobody dies
        assert np.all(new[50:60] == health[50:60]) and not died[50:60].any()


def test_update_health_a_neuron_dies_once_on_the_step_its_health_reaches_zero():
    health, alive = np.array([1.0]), np.array([True])
    deaths = []
    for k in range(100):
        health, died = mn.update_health(health, alive, np.array([0.3]), 1.0)
        if died[0]:
            deaths.append(k)
        alive = alive & ~died
    assert deaths == [3]  # 1.0 → 0.7 → 0.4 → 0.1 → 0 (dies on the 4th step)
    assert health[0] == 0.0


def test_intrinsic_drive_rises_with_day():
    days = np.arange(0.0, 400.0, 5.0)
    a = np.array([mn.intrinsic_drive(d, 0.0185, 100.0, 3.0, 0.0) for d in days])
    assert np.all(np.diff(a) > 0)
    assert mn.intrinsic_drive(100.0, 0.0185, 100.0, 3.0, 0.0) == pytest.approx(0.0185)
    # an offset (disease time before day 0 of the clock) shifts it
    assert mn.intrinsic_drive(0.0, 0.0016, 900.0, 1.5, 365.0) > 0.0
    assert mn.intrinsic_drive(10.0, 0.0016, 900.0, 1.5, 365.0) > mn.intrinsic_drive(0.0, 0.0016, 900.0, 1.5, 365.0)


def test_functional_index_is_one_for_an_intact_pool_and_falls_when_neurons_die():
    n = 20
    size, health, alive = np.ones(n), np.ones(n), np.ones(n, bool)
    assert mn.functional_index(size, health, alive, n, NP) == 1.0
    previous = 1.0
    for k in range(1, n + 1):
        alive[:k] = False
        health[:k] = 0.0
        fi = mn.functional_index(size, health, alive, n, NP)
        assert fi == pytest.approx((n - k) / n) and fi < previous
        previous = fi
    assert previous == 0.0


def test_functional_index_falls_when_axons_fail_before_the_soma_dies():
    n = 10
    size, alive = np.ones(n), np.ones(n, bool)
    health = np.ones(n)
    health[:4] = 0.5 * NP.denervation_health  # sick but alive: drives half its fibres
    assert mn.functional_index(size, health, alive, n, NP) == pytest.approx((6 + 4 * 0.5) / n)


@pytest.mark.parametrize("n_alive", [2, 3, 5, 6, 8])
def test_reinnervation_raises_function_toward_u_max_times_alive_fraction(n_alive):
    n = 10
    size, health = np.ones(n), np.ones(n)
    alive = np.zeros(n, bool)
    alive[:n_alive] = True
    health[~alive] = 0.0
    fi0 = mn.functional_index(size, health, alive, n, NP)
    assert fi0 == pytest.approx(n_alive / n)
    target = min(1.0, NP.reinnervation_max * n_alive / n)
    history = [fi0]
    for _ in range(40):  # 40 steps of 5 days ≫ τ = 14 d
        size = mn.update_unit_size(size, health, alive, n, NP, 5.0)
        history.append(mn.functional_index(size, health, alive, n, NP))
    assert np.all(np.diff(history) > -1e-12), "reinnervation must not lower function"
    assert history[1] > fi0
    assert history[-1] == pytest.approx(target, rel=1e-3)
    assert max(history) <= target + 1e-12
    # dead neurons do not sprout
    assert np.all(size[~alive] == 1.0)


def test_reinnervation_does_nothing_for_an_intact_pool():
    n = 10
    size = mn.update_unit_size(np.ones(n), np.ones(n), np.ones(n, bool), n, NP, 1.0)
    np.testing.assert_allclose(size, 1.0)


# =========================================================================== microglia
def _rates(state, damage=None, tnf=0.0, il10=0.0, tgfb=0.0, push=0.0, p=MP):
    state = np.asarray(state, dtype=np.int8)
    damage = p.k_damage_pm if damage is None else damage
    full = lambda v: np.broadcast_to(np.asarray(v, float), state.shape)  # noqa: E731
    return mg.transition_rates(state, full(damage), full(tnf), full(il10), full(tgfb), full(push), p)


def _pro_share_of_activation(**kw) -> float:
    r = _rates([mg.SURVEILLANT], **kw)[0]
    return r[mg.PRO_INFLAMMATORY] / (r[mg.PRO_INFLAMMATORY] + r[mg.PROTECTIVE])


ANTI_SIGNALS = {"il10": MP.k_il10_pm, "tgfb": MP.k_tgfb_pm, "push": 1.0}


@pytest.mark.parametrize("signal", list(ANTI_SIGNALS))
@pytest.mark.parametrize("damage_factor", [0.3, 1.0, 5.0])
def test_anti_inflammatory_signals_lower_the_pro_inflammatory_rates(signal, damage_factor):
    damage = damage_factor * MP.k_damage_pm
    levels = np.array([0.0, 0.1, 0.5, 1.0, 3.0, 10.0]) * ANTI_SIGNALS[signal]
    share, s_to_pro, s_to_prot, prot_to_pro, pro_to_prot = [], [], [], [], []
    for v in levels:
        kw = {"damage": damage, "tnf": 20.0, signal: v}
        share.append(_pro_share_of_activation(**kw))
        rs = _rates([mg.SURVEILLANT], **kw)[0]
        s_to_pro.append(rs[mg.PRO_INFLAMMATORY])
        s_to_prot.append(rs[mg.PROTECTIVE])
        prot_to_pro.append(_rates([mg.PROTECTIVE], **kw)[0][mg.PRO_INFLAMMATORY])
        pro_to_prot.append(_rates([mg.PRO_INFLAMMATORY], **kw)[0][mg.PROTECTIVE])
    for seq in (share, s_to_pro, prot_to_pro):
        assert np.all(np.diff(seq) < 0), f"raising {signal} must lower the pro-inflammatory rates: {seq}"
    for seq in (s_to_prot, pro_to_prot):
        assert np.all(np.diff(seq) > 0), f"raising {signal} must raise the protective rates: {seq}"


def test_damage_and_tnf_raise_the_pro_inflammatory_share():
    shares = [_pro_share_of_activation(damage=d, il10=MP.k_il10_pm) for d in np.array([0.2, 1, 5]) * MP.k_damage_pm]
    assert np.all(np.diff(shares) > 0)
    shares = [_pro_share_of_activation(tnf=t, il10=MP.k_il10_pm) for t in (0.0, 10.0, 100.0, 1000.0)]
    assert np.all(np.diff(shares) > 0)


def test_transition_rates_shape_and_structure():
    states = np.array([0, 1, 2, 0, 1, 2], dtype=np.int8)
    r = _rates(states, il10=50.0)
    assert r.shape == (6, 3) and np.all(r >= 0)
    # no self-transitions
    assert np.all(r[np.arange(6), states] == 0.0)
    # activation from surveillance totals k_act·d, split by f
    d = mg.damage_drive(MP.k_damage_pm, MP)
    assert d == pytest.approx(0.5)
    assert r[0, 1] + r[0, 2] == pytest.approx(MP.activation_rate_per_h * d)
    assert r[1, 0] == r[2, 0] == pytest.approx(MP.resolution_rate_per_h * (1 - d))


def test_without_damage_surveillant_cells_have_no_way_out_and_stay_surveillant():
    n = 2000
    state = np.zeros(n, np.int8)
    r = _rates(state, damage=0.0, tnf=1000.0, il10=500.0, tgfb=100.0, push=2.0)
    assert np.all(r == 0.0)
    rng = np.random.default_rng(5)
    for _ in range(500):
        rates = mg.transition_rates(state, np.zeros(n), np.full(n, 1000.0), np.zeros(n), np.zeros(n), np.zeros(n), MP)
        state = mg.next_state(state, rates, rng.random(n), 1.0)
    assert np.all(state == mg.SURVEILLANT)


def test_without_damage_activated_cells_return_to_surveillance():
    n = 2000
    state = np.r_[np.full(n // 2, mg.PRO_INFLAMMATORY), np.full(n // 2, mg.PROTECTIVE)].astype(np.int8)
    rng = np.random.default_rng(6)
    zero = np.zeros(n)
    for _ in range(1000):  # 1000 h ≫ 1/k_rest = 50 h
        state = mg.next_state(state, mg.transition_rates(state, zero, zero, zero, zero, zero, MP), rng.random(n), 1.0)
    assert np.all(state == mg.SURVEILLANT)


def test_next_state_with_all_zero_rates_never_changes_state():
    rng = np.random.default_rng(7)
    state = rng.integers(0, 3, 10000).astype(np.int8)
    u = rng.random(10000)
    u[:10] = 0.0  # the smallest possible draw
    u[10:20] = np.nextafter(1.0, 0.0)
    for dt in (0.05, 1.0, 1e6):
        out = mg.next_state(state, np.zeros((10000, 3)), u, dt)
        np.testing.assert_array_equal(out, state)
        assert out.dtype == np.int8


@pytest.mark.parametrize("start, rates, dt", [
    (mg.SURVEILLANT, [0.0, 0.03, 0.07], 5.0),
    (mg.PRO_INFLAMMATORY, [0.01, 0.0, 0.05], 1.0),
    (mg.PROTECTIVE, [0.2, 0.6, 0.0], 2.0),
])
def test_next_state_one_step_probabilities_match_competing_exponentials(start, rates, dt):
    n = 200_000
    rates = np.asarray(rates)
    total = rates.sum()
    p_any = 1 - np.exp(-total * dt)
    rng = np.random.default_rng(11)
    out = mg.next_state(np.full(n, start, np.int8), np.tile(rates, (n, 1)), rng.random(n), dt)

    def close(observed_count, p):
        sd = np.sqrt(n * p * (1 - p))
        assert abs(observed_count - n * p) <= 5 * sd + 1, (observed_count, n * p)

    close((out != start).sum(), p_any)
    for target in range(3):
        if target != start:
            close((out == target).sum(), p_any * rates[target] / total)
    assert not np.isin(out, [k for k in range(3) if k != start and rates[k] == 0]).any()


def _one_step_matrix(damage, tnf, il10, tgfb, push, dt) -> np.ndarray:
    """Exact transition matrix of `next_state` for cells in each state (rows: from, cols: to)."""
    r = _rates([0, 1, 2], damage=damage, tnf=tnf, il10=il10, tgfb=tgfb, push=push)
    total = r.sum(axis=1)
    p_any = -np.expm1(-total * dt)
    P = r * (p_any / np.where(total > 0, total, 1))[:, None]
    P[np.arange(3), np.arange(3)] = 1 - p_any
    return P


def _stationary(P: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eig(P.T)
    pi = np.real(v[:, np.argmin(abs(w - 1))])
    return pi / pi.sum()


def _simulate_population(n, steps, damage, tnf, il10, tgfb, push, dt=1.0, seed=0) -> float:
    """Run `n` cells for `steps` steps under fixed inputs; mean pro-inflammatory fraction over the last third."""
    rng = np.random.default_rng(seed)
    state = np.zeros(n, np.int8)
    inputs = [np.full(n, float(v)) for v in (damage, tnf, il10, tgfb, push)]
    fractions = []
    for k in range(steps):
        state = mg.next_state(state, mg.transition_rates(state, *inputs, MP), rng.random(n), dt)
        if k >= 2 * steps // 3:
            fractions.append((state == mg.PRO_INFLAMMATORY).mean())
    return float(np.mean(fractions))


@pytest.mark.parametrize("signal", list(ANTI_SIGNALS))
def test_population_equilibrium_is_less_pro_inflammatory_with_anti_inflammatory_signals(signal):
    base = {"damage": 2 * MP.k_damage_pm, "tnf": 20.0, "il10": 0.0, "tgfb": 0.0, "push": 0.0}
    raised = dict(base, **{signal: 2.0 * ANTI_SIGNALS[signal]})
    sim_base = _simulate_population(4000, 900, **base)
    sim_raised = _simulate_population(4000, 900, **raised)
    exact_base = _stationary(_one_step_matrix(**base, dt=1.0))[mg.PRO_INFLAMMATORY]
    exact_raised = _stationary(_one_step_matrix(**raised, dt=1.0))[mg.PRO_INFLAMMATORY]
    # the simulated populations reach the chain's stationary distribution ...
    assert sim_base == pytest.approx(exact_base, abs=0.02)
    assert sim_raised == pytest.approx(exact_raised, abs=0.02)
    # ... and the anti-inflammatory signal lowers the pro-inflammatory fraction clearly
    assert exact_raised < exact_base - 0.1
    assert sim_raised < sim_base - 0.1


# =========================================================================== whole model
@pytest.fixture(scope="module")
def paired_default():
    """Control and treated arm of the small default model (shared by several tests)."""
    return {r.arm: r for r in simulate(validate(small_config()))}


def _control(cfg: SimConfig):
    return run_arm(validate(cfg), "control")


def test_more_tnf_secretion_lowers_neuron_health(paired_default):
    base = paired_default["control"]
    cfg = small_config()
    cfg.microglia.pro_tnf = 10.0  # 20× the default (upper end of the plausible range)
    more = _control(cfg)
    fb, fm = frame(base), frame(more)
    assert fm["mean_tnf"].mean() > 5 * fb["mean_tnf"].mean()
    assert fm["mn_mean_health"].iloc[-1] < fb["mn_mean_health"].iloc[-1]
    assert total_health(fm).iloc[-1] < total_health(fb).iloc[-1]
    assert total_health(fm).sum() < total_health(fb).sum()  # more accumulated damage over the run
    assert np.all(fm["mn_alive"].to_numpy() <= fb["mn_alive"].to_numpy())
    k = len(base.death_days)
    assert len(more.death_days) >= k and np.all(more.death_days[:k] <= base.death_days)


@pytest.mark.parametrize("knockout", ["no_trophic_secretion", "no_trophic_protection"])
def test_removing_trophic_support_worsens_survival(paired_default, knockout):
    base = paired_default["control"]
    cfg = small_config()
    if knockout == "no_trophic_secretion":
        cfg.microglia.protective_bdnf = 0.0
        cfg.microglia.protective_gdnf = 0.0
    else:
        cfg.neurons.trophic_max_protection = 0.0
    worse = _control(cfg)
    fb, fw = frame(base), frame(worse)
    if knockout == "no_trophic_secretion":
        assert fw["mean_bdnf"].max() == 0.0 and fw["mean_gdnf"].max() == 0.0
        assert fb["mean_bdnf"].max() > 0.0
    assert total_health(fw).iloc[-1] < total_health(fb).iloc[-1]
    assert np.all(fw["mn_alive"].to_numpy() <= fb["mn_alive"].to_numpy())
    assert fw["mn_alive"].sum() < fb["mn_alive"].sum()  # fewer neuron-days alive
    k = len(base.death_days)
    assert k > 0 and len(worse.death_days) >= k and np.all(worse.death_days[:k] < base.death_days)


def test_tregs_absent_early_and_present_later(paired_default):
    for arm, r in paired_default.items():
        df = frame(r)
        assert (df.loc[df["day"] <= 70, "tregs"] == 0).all(), arm
        assert df.loc[df["day"] >= 100, "tregs"].max() > 0, arm
        assert df.loc[df["day"] >= 100, "tregs"].mean() > df.loc[df["day"] <= 80, "tregs"].mean(), arm


def test_microglia_activate_as_damage_builds(paired_default):
    df = frame(paired_default["control"])
    early, late = df[df["day"] <= 65], df[df["day"] >= 100]
    assert (early["microglia_pro_inflammatory"] + early["microglia_protective"]).max() == 0
    assert (late["microglia_pro_inflammatory"] + late["microglia_protective"]).min() > 0
    assert late["mean_damage"].mean() > early["mean_damage"].mean()


def test_treated_arm_differs_from_control_with_default_pathways(paired_default):
    """Counterpart of the zero-effect tests below: the comparison is sensitive to a real effect."""
    c, t = frame(paired_default["control"]), frame(paired_default["treated"])
    assert t["msc_infused"].iloc[-1] > 0
    pre = c["day"] < 90
    pd.testing.assert_frame_equal(c[pre].drop(columns="arm"), t[pre].drop(columns="arm"), check_exact=True)
    post = ~pre
    assert not c.loc[post, "mean_tnf"].equals(t.loc[post, "mean_tnf"])


# --------------------------------------------------------------------------- engines
def test_agents_and_vectorized_engines_agree_exactly():
    """The per-agent Mesa `step()` methods and the array rules are the same model."""
    cfg = small_config(seed=3, start=70.0, horizon=100.0)
    cfg.treatment.start_day = 80.0
    records = {}
    for engine in ("vectorized", "agents"):
        c = dataclasses.replace(cfg, engine=engine)
        records[engine] = run_arm(validate(c), "treated")
    v, a = records["vectorized"], records["agents"]
    df = frame(v)
    # the window exercises neuron deaths, microglial switching and an infusion
    assert df["microglia_pro_inflammatory"].max() > 0 and df["microglia_protective"].max() > 0
    assert df["msc_infused"].iloc[-1] > 0
    assert df["mn_mean_health"].iloc[-1] < 1.0
    assert_same_outcome(v, a, ignore_columns=())


# --------------------------------------------------------------------------- pairing and determinism
@pytest.mark.slow  # quick siblings: test_cli.py's dose-0 run (every row and field) and test_spread.py's, in every region
def test_zero_dose_treated_arm_equals_control(paired_default):
    cfg = small_config()
    cfg.treatment.dose_cells_per_kg = 0.0
    treated = run_arm(validate(cfg), "treated")
    assert frame(treated)["arm"].eq("treated").all()
    assert treated.infusion_days == []
    assert_same_outcome(paired_default["control"], treated)


def test_same_config_gives_identical_rows(paired_default):
    again = {r.arm: r for r in simulate(validate(small_config()))}
    for arm in ("control", "treated"):
        assert_same_outcome(paired_default[arm], again[arm], ignore_columns=())


def test_different_seeds_give_different_rows(paired_default):
    other = _control(small_config(seed=1))
    a, b = frame(paired_default["control"]), frame(other)
    assert a.shape == b.shape
    assert not a.equals(b)
    assert not np.array_equal(a["mean_damage"].to_numpy(), b["mean_damage"].to_numpy())


@pytest.mark.slow  # quick sibling: test_knockouts.py, test_all_pathways_off_treated_arm_equals_control (every tissue outcome)
def test_all_msc_pathways_off_gives_zero_modelled_effect(paired_default):
    """Non-clinical honesty: with every pathway switched off the cells are infused but change nothing."""
    cfg = small_config()
    for f in dataclasses.fields(cfg.msc.pathways):
        setattr(cfg.msc.pathways, f.name, False)
    treated = run_arm(validate(cfg), "treated")
    t = frame(treated)
    assert treated.infusion_days == [90.0]
    assert t["msc_infused"].iloc[-1] > 0  # the MSCs are there (pharmacokinetics still run) ...
    assert (t["msc_tissue"] == 0).all()
    # ... but every tissue outcome equals the control arm exactly
    assert_same_outcome(paired_default["control"], treated, ignore_columns=("arm", *MSC_COLUMNS),
                        ignore_msc_agents=True, compare_ids=False)


def test_infusion_on_the_first_simulated_day_is_given():
    cfg = small_config(start=60.0, horizon=62.0)
    cfg.treatment.start_day = 60.0
    r = run_arm(validate(cfg), "treated")
    df = frame(r)
    assert r.infusion_days == [60.0]
    assert df["msc_infused"].iloc[0] == 0 and df["msc_infused"].iloc[-1] == round(cfg.treatment.dose_cells_per_kg * cfg.disease.body_weight_kg)
