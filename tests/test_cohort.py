"""The batched engine (`sim.cohort`): many individuals in one vectorized step, each identical to its run alone."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from sim.agents import motor_neuron as mn
from sim.cohort import Cohort, NumericalError, contacts_by_cell
from sim.config import NeuronConfig
from sim.fields import FieldBatch, FieldSolver
from sim.presets import compose_config
from sim.run import ArmJob, run_arm, run_arms

SHORT = ["domain=quick", "disease.horizon_days=75"]  # 45 days of the mouse course: infusions, deaths, births, Tregs


def digest(record) -> str:
    """Everything a record holds: time-series rows, death days, snapshot fields and agents, infusions, individual."""
    h = hashlib.sha256()
    h.update(json.dumps(record.rows, sort_keys=True, default=repr).encode())
    h.update(np.asarray(record.death_days).tobytes())
    for frame in record.field_frames:
        h.update(np.ascontiguousarray(frame).tobytes())
    for batch in record.agent_batches:
        h.update(repr(batch.to_pydict()).encode())
    h.update(repr((record.infusion_days, record.individual, record.snapshot_days)).encode())
    return h.hexdigest()


MIXED = [  # seeds, both arms, doses, a knock-out and a manipulation in one batch
    (["seed=0", "treatment.start_day=40"], "control"), (["seed=0", "treatment.start_day=45"], "treated"),
    (["seed=1", "treatment.dose_cells_per_kg=4e7", "treatment.start_day=40", "treatment.n_infusions=2", "treatment.interval_days=30"], "treated"),
    (["seed=2", "+experiment=knockout_local", "treatment.dose_cells_per_kg=1e8", "treatment.start_day=40"], "treated"),
    (["seed=3", "manipulation=tnf_ko", "treatment.start_day=40"], "treated"),
    (["seed=3", "manipulation=tnf_ko", "treatment.start_day=40"], "control"),
]


def test_a_mixed_batch_gives_every_individual_its_single_run_bit_for_bit():
    jobs = [ArmJob(compose_config(SHORT + overrides), arm) for overrides, arm in MIXED]
    batched = run_arms(jobs)
    single = [run_arm(j.cfg, j.arm) for j in jobs]
    assert [digest(b) for b in batched] == [digest(s) for s in single]
    treated = batched[2]
    assert treated.infusion_days == [40.0, 70.0] and treated.rows[-1]["msc_infused"] > 0
    assert len({digest(b) for b in batched}) == len(jobs)  # the individuals really differ


@pytest.mark.slow  # three batched runs of four individuals; the quick loop keeps the mixed batch above (each of six
# individuals in one batch equals its run alone), and conftest's session sweep runs four jobs in one batch
def test_batch_size_and_order_do_not_change_any_result():
    jobs = [ArmJob(compose_config(SHORT + overrides), arm) for overrides, arm in MIXED[:4]]
    together = [digest(r) for r in run_arms(jobs)]
    in_pairs = [digest(r) for r in run_arms(jobs, batch_size=2)]
    reversed_ = [digest(r) for r in run_arms(jobs[::-1])][::-1]
    assert together == in_pairs == reversed_


@pytest.mark.slow  # four-region human runs; the quick loop keeps the mixed mouse batch
def test_further_body_regions_advance_in_the_same_cohort_unchanged():
    cfg = compose_config(["disease=human_sporadic", "domain=quick", "seed=4", "disease.horizon_days=120"])
    assert cfg.disease.regions > 1
    jobs = [ArmJob(cfg, "control"), ArmJob(cfg, "treated")]
    assert [digest(r) for r in run_arms(jobs)] == [digest(run_arm(cfg, arm)) for arm in ("control", "treated")]


def test_an_individual_whose_fields_fail_is_reported_and_the_others_finish(monkeypatch):
    # five days: the failure comes on step 30 (day 31.25), and the other two go on to the end
    jobs = [ArmJob(compose_config(["domain=quick", "disease.horizon_days=35", f"seed={s}", "treatment=none"]), "control")
            for s in (10, 11, 12)]
    alone = [digest(run_arm(j.cfg, j.arm)) for j in jobs]
    sources = Cohort.sources

    def nan_for_seed_11(self):
        src = sources(self)
        for b, m in enumerate(self.models):
            if m.cfg.seed == 11 and self.step_now == 30:
                src[b, 1, 2, 3] = np.nan
        return src

    monkeypatch.setattr(Cohort, "sources", nan_for_seed_11)
    results = run_arms(jobs)
    assert isinstance(results[1], NumericalError)
    assert str(results[1]) == "field 'il1b' became non-finite at step 30 (day 31.25) of the control arm (seed 11)"
    assert [digest(results[0]), digest(results[2])] == [alone[0], alone[2]]


def test_field_batch_rows_equal_their_solvers_alone_bit_for_bit():
    rng = np.random.default_rng(1)
    shape, dx, dt = (12, 17), 20.0, 1.0
    diffusion, decay = rng.uniform(10, 5e4, 9), rng.uniform(0.01, 2.0, 9)
    alone = [FieldSolver(shape, dx, diffusion, decay, dt) for _ in range(4)]
    joined = [FieldSolver(shape, dx, diffusion, decay, dt) for _ in range(4)]
    starts = rng.uniform(0, 5, (4, 9, *shape))
    starts[2, 1] = 0.0  # an empty plane in one individual
    for s, t, v in zip(alone, joined, starts):
        s.set_values(v)
        t.set_values(v)
    batch = FieldBatch(joined)
    for step in range(5):
        decays = decay * rng.uniform(0.5, 1.5, (4, 9)) if step % 2 else np.tile(decay, (4, 1))
        sources = rng.uniform(0, 3, (4, 9, *shape))
        sources[step % 4, [1, 7]] = 0.0  # silent planes in one individual only: it skips transforms the others make
        if step == 2:
            sources[:, 3] = 0.0
        for b, s in enumerate(alone):
            s.set_decay(decays[b])
            s.step(sources[b])
        batch.set_decay(decays)
        batch.step(sources)
        factor = rng.uniform(0.5, 1.0, (2, *shape))
        alone[1].scale([4, 5], factor[0])
        alone[3].scale([4, 5], factor[1])
        batch.scale(np.array([1, 3]), slice(4, 6), factor)
    for b, s in enumerate(alone):
        assert s.values.tobytes() == batch.values[b].tobytes() == joined[b].values.tobytes()
        assert s._spectrum.tobytes() == batch.spectrum[b].tobytes()


def test_contacts_are_exact_linear_candidate_counts_that_never_cross_individuals():
    rng = np.random.default_rng(3)
    r = 15.0
    x, y = rng.uniform(0, 200, 400), rng.uniform(0, 200, 400)
    ind = rng.integers(0, 3, 400)
    ox, oy = rng.uniform(0, 200, 60), rng.uniform(0, 200, 60)
    oind = rng.integers(0, 3, 60)
    ox[0], oy[0], x[0], y[0], ind[0], oind[0] = 50.0, 50.0, 50.0 + r, 50.0, 1, 1  # exactly at the radius: in contact
    got = contacts_by_cell(x, y, ind, ox, oy, oind, r)
    dx, dy = ox[None, :] - x[:, None], oy[None, :] - y[:, None]
    want = ((dx * dx + dy * dy <= r * r) & (ind[:, None] == oind[None, :])).sum(axis=1)
    np.testing.assert_array_equal(got, want)
    assert got[0] >= 1 and want.sum() > 20


def test_reinnervation_of_a_stack_of_individuals_equals_each_alone():
    rng = np.random.default_rng(5)
    p = NeuronConfig()
    size, health = rng.uniform(0.5, 3, (5, 37)), rng.uniform(0, 1, (5, 37))
    alive = rng.random((5, 37)) < 0.7
    stacked = mn.update_unit_size(size, health, alive, 37, p, 1 / 24)
    for b in range(5):
        assert stacked[b].tobytes() == mn.update_unit_size(size[b], health[b], alive[b], 37, p, 1 / 24).tobytes()


def test_models_that_cannot_share_a_cohort_are_refused_with_a_reason():
    from sim.model import ALSModel
    a = ALSModel(compose_config(["domain=quick"]))
    b = ALSModel(compose_config(["domain=standard"]))
    with pytest.raises(ValueError, match="share grid"):
        Cohort([a, b])
