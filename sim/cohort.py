"""One step of many individuals at once: the batched engine every run goes through.

A `Cohort` advances B models (`ALSModel`) in lockstep — seeds, the two arms of a pair, scenario variants and
the further body regions of the same individuals — so the step's fixed cost of many small NumPy calls is paid
once for all of them instead of once per individual:

* fields are stacked (B, fields, ny, nx) and one transform advances them all (`sim.fields.FieldBatch`);
* motor neurons (a fixed number per individual) are stacked (B, N); every model's neuron columns are views
  of its row;
* microglia, Tregs and MSCs keep each individual's own store (their numbers change); their columns are
  concatenated for the vectorized rules, with an individual index, and written back;
* contacts are counted among candidates in neighbouring cells of a grid of the contact radius, keyed by
  individual, so they never cross individuals;
* random numbers come from each individual's own streams in the order of its single run, so a batch is a
  performance choice, never a modeling one: every individual's results are bit for bit those of its run
  alone (tests/test_cohort.py). A single run is a cohort of one, so there is one engine.

The step order is the model's (see `sim.model`); the biology stays in the modules it calls. An individual
whose fields turn non-finite leaves the cohort with its error (`failures`); the others go on.
"""
from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

import numpy as np

from sim import pk
from sim.agents import microglia as mg
from sim.agents import motor_neuron as mn
from sim.agents import treg as tr
from sim.environment import relax
from sim.fields import FIELD_INDEX, FIELD_NAMES, FieldBatch, gradient
from sim.pathways import Exposure
from sim.pathways.base import Pathway

if TYPE_CHECKING:
    from sim.model import ALSModel

F = FIELD_INDEX
NF = len(FIELD_NAMES)
NEURON_INPUTS = np.array([F[n] for n in ("tnf", "il1b", "ros", "glutamate", "bdnf", "gdnf")])
MICROGLIA_INPUTS = np.array([F[n] for n in ("damage", "tnf", "il10", "tgfb")])
TROPHIC = slice(F["bdnf"], F["gdnf"] + 1)
assert TROPHIC.stop - TROPHIC.start == 2  # BDNF and GDNF are neighbours in FIELD_NAMES


class NumericalError(RuntimeError):
    """A field became non-finite; the message names the field, the step and the individual."""


def batch_key(model: ALSModel) -> tuple:
    """What individuals must share to advance together: the grid, the clock, the neuron count and every
    parameter the vectorized rules read as one number for the whole batch (the rest may differ)."""
    cfg = model.cfg
    return (model.shape, model.dx, model.dt_h, model.n_steps, model.n_neurons, cfg.engine, repr(cfg.neurons), repr(cfg.microglia),
            repr(cfg.fields), cfg.domain.slab_thickness_um, cfg.domain.ecs_fraction)


class Cohort:
    """B models that advance together, step by step (see the module docstring)."""

    def __init__(self, models: list[ALSModel]):
        if len({batch_key(m) for m in models}) > 1:
            raise ValueError("models of one cohort must share grid, clock, neuron count and the batched rules' parameters")
        self.models: list[ALSModel] = []
        self.failures: dict[int, Exception] = {}  # position in the original list → its error
        self.k = models[0].steps if models else 0
        self._clock_owned = False
        self._position: list[int] = []
        self._bind(models, list(range(len(models))))

    # ------------------------------------------------------------------ set-up
    def _bind(self, models: list[ALSModel], positions: list[int]) -> None:
        """Stack the models' fields and neuron columns (their arrays become views of the stacks)."""
        self.models, self._position = models, positions
        if not models:
            return
        m0 = models[0]
        self.B, self.nvox, self.shape = len(models), m0.n_voxels, m0.shape
        self.fields = FieldBatch([m.solver for m in models])
        self.neurons = {}
        for name in m0.neuron_store.schema:
            self.neurons[name] = np.stack([m.neuron_store[name] for m in models])
            for b, m in enumerate(models):
                m.neuron_store._data[name] = self.neurons[name][b]
        self.neuron_voxels = np.stack([m._neuron_voxels() for m in models])
        self._field_offset = (np.arange(self.B) * NF * self.nvox)[:, None]  # start of each individual in the flat stack
        self._agents_engine = m0.cfg.engine == "agents"

    def drop(self, failed: list[int]) -> None:
        """Take the individuals at these cohort rows out (their fields failed); the others go on unchanged."""
        keep = [b for b in range(len(self.models)) if b not in failed]
        models, positions = [self.models[b] for b in keep], [self._position[b] for b in keep]
        for m in models:  # give each model its own arrays back before re-stacking
            s = m.solver
            s.values, s._spectrum, s._E, s._G, s._decay = s.values.copy(), s._spectrum.copy(), s._E.copy(), s._G.copy(), s._decay.copy()
            for name in m.neuron_store.schema:
                m.neuron_store._data[name] = m.neuron_store._data[name].copy()
        self._bind(models, positions)

    # ------------------------------------------------------------------ driving
    def advance(self) -> None:
        """One step of every model: Mesa events due before it, the step, then the step's own events (infusions).

        The cohort keeps each model's Mesa clock itself (its default step schedule is paused), so a step costs
        no event handling unless an event (an infusion) is due; events run in the order a model's own
        `step()` would run them: those before step k, then step k, then those at k.
        """
        if not self._clock_owned:
            for m in self.models:
                m._default_schedule.pause()
                m._event_list.compact()  # drop the paused step event, so the heap's head is the next real event
            self._clock_owned = True
        k = self.k + 1
        for m in self.models:
            if _next_event_time(m) < k:
                m._advance_time(math.nextafter(float(k), -math.inf))
        if self.models:
            self.body(k)
        for m in self.models:
            m.steps += 1
            if _next_event_time(m) <= k:
                m._advance_time(float(k))
            else:
                m.time = float(k)
        self.k = k

    def body(self, k: int) -> None:
        """Step k of every model (the model's step order, `sim.model`)."""
        ms = self.models
        self.step_now = k
        mean_damage = self.fields.values[:, F["damage"]].reshape(len(ms), -1).mean(axis=1)  # each row as its own .mean()
        for m, damage in zip(ms, mean_damage.tolist()):
            # the interval's start, computed as the single run always has (its end minus one step: same rounding)
            m.ctx.day = (m.cfg.disease.start_day + k * m.dt_h / 24.0) - m.dt_h / 24.0
            m._environment(m.ctx.day, damage)
        gy, gx = gradient(self.fields.values[:, F["damage"]], self.fields.dx)
        for b, m in enumerate(ms):
            m.damage_gradient = (gy[b], gx[b])
        self._step_neurons(k)
        self._step_microglia(gy, gx)
        self._step_tregs()
        for m in ms:
            engulfed = pk.step(m)
            if m.pathways:
                exposure = Exposure(m.burden_per_kg, engulfed / m.cfg.disease.body_weight_kg / m.ctx.dt_days)
                for pathway in m.pathways:
                    pathway.advance(exposure, m.ctx.dt_days)
        self._step_fields(k)
        for m in self.models:
            m.blood_products = relax(m.blood_products, m.env.leak, m.cfg.disease.blood_product_clearance_days, m.ctx.dt_days)

    # ------------------------------------------------------------------ neurons
    def _step_neurons(self, k: int) -> None:
        ms, s = self.models, self.neurons
        for m in ms:
            d = m.cfg.disease
            m.ctx.drive = mn.intrinsic_drive(m.ctx.day - m.lag_days, d.drive_per_day * m.individual.drive_multiplier, d.drive_ref_day,
                                             d.drive_exponent, d.drive_offset_days)
            m.ctx.blood_products = m.env.blood_products
        flat = self.fields.values.reshape(-1)
        where = self._field_offset[None, :, :] + NEURON_INPUTS[:, None, None] * self.nvox + self.neuron_voxels[None]
        inputs = flat[where]  # (6, B, N)
        inputs[3] = np.maximum(inputs[3] - ms[0].cfg.fields.glutamate_ambient_um, 0.0)  # glutamate above ambient
        p = ms[0].cfg.neurons
        if self._agents_engine:
            died = np.stack([self._neuron_agents(m, inputs[:, b]) for b, m in enumerate(ms)])
            rate = np.stack([m.ctx.neuron_rate for m in ms])
        else:
            drive = np.array([m.ctx.drive for m in ms])[:, None]
            blood = np.array([m.ctx.blood_products for m in ms])[:, None]
            rate = mn.damage_rate(drive, s["vulnerability"], *inputs, blood, p)
            s["health"][...], died = mn.update_health(s["health"], s["alive"], rate, ms[0].ctx.dt_days)
            for b, m in enumerate(ms):
                m.ctx.neuron_inputs, m.ctx.neuron_rate = inputs[:, b], rate[b]
        day_end = np.array([m.cfg.disease.start_day + k * m.dt_h / 24.0 for m in ms])[:, None]
        s["alive"][died] = False
        np.copyto(s["death_day"], day_end, where=died)
        for b, m in enumerate(ms):
            m._deaths_idx = self.neuron_voxels[b][died[b]]
        s["unit_size"][...] = mn.update_unit_size(s["unit_size"], s["health"], s["alive"], ms[0].n_neurons, p, ms[0].ctx.dt_days)

    @staticmethod
    def _neuron_agents(m: ALSModel, inputs: np.ndarray) -> np.ndarray:
        """The per-agent Mesa engine (`engine=agents`): every neuron's `step()` on its own inputs."""
        m.ctx.neuron_inputs = inputs
        return m._neuron_rules()

    # ------------------------------------------------------------------ microglia
    def _step_microglia(self, gy: np.ndarray, gx: np.ndarray) -> None:
        ms = [m for m in self.models if len(m.microglia_store)]
        if not ms:
            return
        rows = np.array([self.models.index(m) for m in ms]) if len(ms) < len(self.models) else np.arange(len(ms))
        stores = [m.microglia_store for m in ms]
        counts = np.array([len(s) for s in stores])
        ind = np.repeat(np.arange(len(ms)), counts)  # index into ms
        x = np.concatenate([s["x"] for s in stores])
        y = np.concatenate([s["y"] for s in stores])
        state = np.concatenate([s["state"] for s in stores])
        m0, p = ms[0], ms[0].cfg.microglia
        idx = m0.voxel(x, y)
        flat = self.fields.values.reshape(-1)
        base = self._field_offset[rows, 0][ind]
        damage, tnf, il10, tgfb = flat[base[None, :] + MICROGLIA_INPUTS[:, None] * self.nvox + idx[None, :]]
        push_env = np.array([m.env.microglia_push for m in ms])[ind]
        push = push_env + p.treg_contact_weight * self._treg_contacts(ms, x, y, ind, p.contact_radius_um)
        starts = np.concatenate([[0], np.cumsum(counts)])
        for j, m in enumerate(ms):
            for pathway in hooked(m, "microglia_push"):
                extra = pathway.microglia_push(m, m.microglia_store)
                if extra is not None:
                    push[starts[j]:starts[j + 1]] = push[starts[j]:starts[j + 1]] + extra
        u, normals, u_birth, u_death = [], [], [], []
        for m, n in zip(ms, counts):
            rng = m.rngs["microglia"]
            u.append(rng.random(n))
            normals.append(rng.standard_normal((2, n)))
            u_birth.append(rng.random(n))
            u_death.append(rng.random(n))
        u, normals = np.concatenate(u), np.concatenate(normals, axis=1)
        u_birth, u_death = np.concatenate(u_birth), np.concatenate(u_death)
        inputs = np.stack([damage, tnf, il10, tgfb, push])
        if self._agents_engine:
            state = self._microglia_agents(ms, inputs, u, starts)
        else:
            activation = np.array([m.env.microglia_activation for m in ms])[ind]
            pro = np.array([m.env.microglia_pro_inflammatory for m in ms])[ind]
            rates = mg.transition_rates(state, damage, tnf, il10, tgfb, push, p, activation, pro)
            state = mg.next_state(state, rates, u, m0.ctx.dt_h)
        grad_scale = p.k_damage_pm / 100.0  # gradients above K_D per 100 µm saturate the speed
        gidx = rows[ind] * self.nvox + idx
        x, y = mg.chemotaxis_step(x, y, gy.reshape(-1)[gidx], gx.reshape(-1)[gidx], normals, p.speed_um_per_h,
                                  p.random_motility_um2_per_h, grad_scale, m0.ctx.dt_h, m0.width, m0.height)
        for j, s in enumerate(stores):
            a, b = starts[j], starts[j + 1]
            s.set_columns(x=x[a:b], y=y[a:b], state=state[a:b])
        room = np.array([max(0.0, 1.0 - len(s) / m.microglia_capacity) for s, m in zip(stores, ms)])[ind]
        rate = np.array([p.proliferation_rate_per_day * m.env.microglia_proliferation for m in ms])[ind]
        born, dies = mg.birth_and_death_masks(state, damage, u_birth, u_death, rate, room, p, m0.ctx.dt_days)
        for j in np.unique(ind[born | dies]):
            a, b = starts[j], starts[j + 1]
            mg.apply_births_and_deaths(ms[j], born[a:b], dies[a:b])

    @staticmethod
    def _microglia_agents(ms: list[ALSModel], inputs: np.ndarray, u: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """The per-agent Mesa engine (`engine=agents`): every cell's `step()` on its own inputs."""
        out = []
        for j, m in enumerate(ms):
            a, b = starts[j], starts[j + 1]
            m.ctx.microglia_inputs, m.ctx.microglia_u = inputs[:, a:b], u[a:b]
            m._microglia_rules()
            out.append(m.microglia_store["state"].copy())
        return np.concatenate(out)

    def _treg_contacts(self, ms: list[ALSModel], x: np.ndarray, y: np.ndarray, ind: np.ndarray, r: float) -> np.ndarray:
        """Tregs of the same individual within r of each microglial cell."""
        tregs = [m.treg_store for m in ms]
        tcounts = np.array([len(t) for t in tregs])
        if not tcounts.sum():
            return np.zeros(len(x))
        tx = np.concatenate([t["x"] for t in tregs])
        ty = np.concatenate([t["y"] for t in tregs])
        return contacts_by_cell(x, y, ind, tx, ty, np.repeat(np.arange(len(ms)), tcounts), r)

    # ------------------------------------------------------------------ Tregs
    def _step_tregs(self) -> None:
        """Tregs of every individual: some leave, all wander (one move for all), new ones arrive (`sim.agents.treg`)."""
        ms = self.models
        stores = [m.treg_store for m in ms]
        counts = [len(t) for t in stores]
        draws = [tr.draws(m, n) if n else None for m, n in zip(ms, counts)]
        if any(counts):
            m0 = ms[0]
            x = np.concatenate([t["x"] for t in stores])
            y = np.concatenate([t["y"] for t in stores])
            normals = np.concatenate([d[1] for d in draws if d is not None], axis=1)
            stride = np.repeat([tr.stride_um(m) for m in ms], counts)
            x, y = tr.wander(x, y, stride, normals, m0.width, m0.height)
            # who leaves (after moving, as the rule is written): each individual's own probability and draws
            u = np.concatenate([d[0] for d in draws if d is not None])
            leaving = u < np.repeat([tr.leave_probability(m.ctx.dt_h, m.cfg.tregs) for m in ms], counts)
            a = 0
            for m, t, n in zip(ms, stores, counts):
                t["x"][:], t["y"][:] = x[a:a + n], y[a:a + n]
                if leaving[a:a + n].any():
                    tr.remove(m, leaving[a:a + n])
                a += n
        for m in ms:
            tr.arrive(m)

    # ------------------------------------------------------------------ fields
    def sources(self) -> np.ndarray:
        """Secretion of every agent of every individual as concentration rates (unit/h per voxel), (B, fields, ny, nx).

        Every release is listed as (flat individual·field·voxel index, amount) and summed by one bincount. Within
        one individual the order of the list (neurons, death bursts, microglia by field, Tregs, MSC pathways)
        is that of its run alone, so each voxel's additions happen in the same order: the sums are identical.
        """
        ms, nvox, s = self.models, self.nvox, self.neurons
        m0 = ms[0]
        pm = m0.per_molecule
        where: list[np.ndarray] = []
        amount: list[np.ndarray] = []
        alive = s["alive"]
        if alive.any():
            where.append((self._field_offset + F["damage"] * nvox + self.neuron_voxels)[alive])
            amount.append(mn.chemokine_release(s["health"][alive], True, m0.cfg.neurons) * pm[F["damage"]])
        deaths = [m._deaths_idx + self._field_offset[b, 0] for b, m in enumerate(ms) if len(m._deaths_idx)]
        if deaths:
            dead = np.concatenate(deaths)
            where.append(dead + F["damage"] * nvox)
            amount.append(np.full(len(dead), m0.cfg.neurons.death_burst_molecules / (m0.dt_h * 3600.0) * pm[F["damage"]]))

        stores = [m.microglia_store for m in ms]
        counts = np.array([len(st) for st in stores])
        if counts.sum():
            ind = np.repeat(np.arange(len(ms)), counts)
            st = np.concatenate([x["state"] for x in stores])
            midx = m0.voxel(np.concatenate([x["x"] for x in stores]), np.concatenate([x["y"] for x in stores])) + self._field_offset[ind, 0]
            p = m0.cfg.microglia
            pro = (st == mg.PRO_INFLAMMATORY).astype(float)
            prot = (st == mg.PROTECTIVE).astype(float)
            w_pro, w_prot = pro + p.mixed_output * prot, prot + p.mixed_output * pro
            offset, rates, per_molecule, which = m0._microglia_release
            factors = np.ones((len(ms), len(which)))  # release rows beyond the toxins are never scaled
            factors[:, :len(m0.env.microglia_release)] = [m.env.microglia_release for m in ms]
            factors = factors[ind].T  # (rows, cells)
            where.append((offset + midx[None, :]).ravel())
            amount.append(((rates * factors * np.stack([w_pro, w_prot])[which]) * per_molecule).ravel())

        tregs = [m.treg_store for m in ms]
        tcounts = np.array([len(t) for t in tregs])
        if tcounts.sum():
            tind = np.repeat(np.arange(len(ms)), tcounts)
            tidx = m0.voxel(np.concatenate([t["x"] for t in tregs]), np.concatenate([t["y"] for t in tregs])) + self._field_offset[tind, 0]
            for name in ("il10", "tgfb"):
                where.append(tidx + F[name] * nvox)
                amount.append(np.array([getattr(m.cfg.tregs, name) for m in ms])[tind] * pm[F[name]])

        for b, m in enumerate(ms):
            for pathway in hooked(m, "release"):
                for idx, rate in pathway.release(m):
                    where.append(idx + self._field_offset[b, 0])
                    amount.append(rate)

        n_all = len(ms) * NF * nvox
        src = np.bincount(np.concatenate(where), np.concatenate(amount), minlength=n_all) if where else np.zeros(n_all)
        src = src.reshape(len(ms), NF, *self.shape)
        src[:, F["glutamate"]] += m0.cfg.fields.glutamate_ambient_um * m0.base_decay[F["glutamate"]]
        return src

    def _step_fields(self, k: int) -> None:
        ms = self.models
        decay = np.stack([m.base_decay for m in ms])
        eaat2 = np.array([m.env.eaat2 * m.env.glutamate_clearance for m in ms])
        decay[:, F["glutamate"]] *= eaat2
        decay[:, F["ros"]] *= np.array([m.env.ros_scavenging for m in ms])
        self.fields.set_decay(decay)
        values = self.fields.step(self.sources())
        self._trophic_uptake()
        for m in ms:
            for pathway in hooked(m, "after_fields"):
                pathway.after_fields(m)
        if not np.isfinite(values).all():
            self._fail_non_finite(values, k)

    def _trophic_uptake(self) -> None:
        """Neurons take up BDNF and GDNF: each voxel's trophic fields fall by exp(−k·n·Δt) (n: living neurons there)."""
        ms = self.models
        k = ms[0].cfg.neurons.trophic_uptake_per_h
        if k <= 0:
            return
        alive = self.neurons["alive"]
        n_alive = alive.sum(axis=1)
        rows = np.flatnonzero(n_alive > 0)
        if not len(rows):
            return
        for b in rows:
            m = ms[b]
            if n_alive[b] != m._uptake_alive:  # neurons only die, so the same count means the same living neurons
                count = np.bincount(self.neuron_voxels[b][alive[b]], minlength=self.nvox)
                m._uptake_factor = m.solver.uptake_factor((k * count).reshape(self.shape))
                m._uptake_alive = int(n_alive[b])
        self.fields.scale(rows, TROPHIC, np.stack([ms[b]._uptake_factor for b in rows]))

    def _fail_non_finite(self, values: np.ndarray, k: int) -> None:
        bad_rows = np.flatnonzero(~np.isfinite(values).reshape(len(self.models), -1).all(axis=1))
        for b in bad_rows:
            m = self.models[b]
            bad = FIELD_NAMES[int(np.flatnonzero(~np.isfinite(values[b]).reshape(NF, -1).all(axis=1))[0])]
            who = f" (seed {m.cfg.seed}{f', region {m.region}' if m.region else ''})" if len(self.models) > 1 else ""
            self.failures[self._position[b]] = NumericalError(
                f"field {bad!r} became non-finite at step {k} (day {m.cfg.disease.start_day + k * m.dt_h / 24.0:.2f}) "
                f"of the {m.arm} arm{who}")
        self.drop(list(bad_rows))


def hooked(m: ALSModel, hook: str) -> list:
    """The model's switched-on pathways that implement `hook` (the others' hooks do nothing; skipping them saves time)."""
    if not m.pathways:
        return m.pathways
    cache = m.__dict__.setdefault("_hooked", {})
    key = (hook, len(m.pathways))  # a pathway taken out (tests do) changes the key
    if key not in cache:
        cache[key] = [p for p in m.pathways if getattr(type(p), hook) is not getattr(Pathway, hook)]
    return cache[key]


def _next_event_time(m: ALSModel) -> float:
    """Time of the model's next scheduled Mesa event (infinity if none); cancelled events at the head are dropped."""
    events = m._event_list._events
    while events and events[0].CANCELED:
        heapq.heappop(events)
    return events[0].time if events else math.inf


def contacts_by_cell(x: np.ndarray, y: np.ndarray, ind: np.ndarray, ox: np.ndarray, oy: np.ndarray, oind: np.ndarray, r: float) -> np.ndarray:
    """For each cell (x, y) of individual ind, the number of other cells (ox, oy) of the same individual within r.

    Only candidates near each other cell are compared: both sets are binned on a grid of cell size r keyed by
    individual, and each other cell meets the cells of its own and the 8 neighbouring bins. Distances are
    compared as dx² + dy² ≤ r² with the original coordinates (as an all-pairs count does), so the counts
    are exact; the cost is linear in the number of cells.
    """
    out = np.zeros(len(x))
    if not len(x) or not len(ox):
        return out
    inv = 1.0 / r
    cx, cy = np.floor(x * inv).astype(np.int64), np.floor(y * inv).astype(np.int64)
    ocx, ocy = np.floor(ox * inv).astype(np.int64), np.floor(oy * inv).astype(np.int64)
    span_x = int(max(cx.max(), ocx.max())) + 3
    span_y = int(max(cy.max(), ocy.max())) + 3
    key = (ind.astype(np.int64) * span_y + (cy + 1)) * span_x + (cx + 1)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    hits = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            okey = (oind.astype(np.int64) * span_y + (ocy + 1 + dy)) * span_x + (ocx + 1 + dx)
            lo = np.searchsorted(sorted_key, okey, "left")
            hi = np.searchsorted(sorted_key, okey, "right")
            n = hi - lo
            if not n.sum():
                continue
            other = np.repeat(np.arange(len(ox)), n)
            cand = order[np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())]
            ddx = ox[other] - x[cand]
            ddy = oy[other] - y[cand]
            hits.append(cand[ddx * ddx + ddy * ddy <= r * r])
    if hits:
        out += np.bincount(np.concatenate(hits), minlength=len(x))
    return out
