"""ALSModel: wires agents, fields, pharmacokinetics, MSC pathways and manipulations; defines the order of one step.

One step (default 1 h) in this order:
1. environment (`sim.environment`): barrier leak and EAAT2 uptake of the day, then any experimental
   manipulation (`sim.manipulation`), then every switched-on MSC pathway (`sim.pathways`) changes it;
2. motor neurons read their fields and the blood-derived products, lose health, die (damage burst), survivors sprout;
3. microglia switch state (damage vs IL-10/TGF-β, Treg and pathway pushes), move, divide, die;
4. Tregs leave, wander and arrive (`sim.agents.treg.step`); 5. MSC packets move between blood/lung/cleared, a
   few cells may home, tissue MSCs move and die (`sim.pk.step`); 6. the pathways' memories advance on this
   step's exposure;
7. every agent's and pathway's secretion becomes a source; the fields advance exactly over the step; uptake
   and local pathway effects; blood-derived products follow the leak.
Infusions are Mesa events scheduled at their hour. Random numbers come from one independent
stream per process (spawned from one SeedSequence), so a treated arm with zero dose reproduces
the control arm exactly and treated/control pairs share all draws treatment does not touch.
The biology lives in the modules named above; this class keeps only the wiring and the step order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import mesa
import numpy as np
from scipy.spatial import cKDTree

from sim import manipulation, pk, spread
from sim.agents import Microglia, MotorNeuron
from sim.agents import microglia as mg
from sim.agents import motor_neuron as mn
from sim.agents import msc as msc_mod
from sim.agents import treg as tr
from sim.agents.base import Columns
from sim.config import DiseaseConfig, SimConfig, grid_shape
from sim.environment import disease_environment, relax
from sim.fields import FIELD_INDEX, FIELD_NAMES, FIELD_SPECS, FieldSolver, decay_per_h, diffusion_um2_per_h, molecules_per_s_to_rate
from sim.pathways import REGISTRY, Exposure, switched_on
from sim.treatment import infusion_days

BRUTE_FORCE_PAIRS = 20_000  # contact counting: below this many cell pairs, all pairs beat building a k-d tree
STREAMS = ("neurons_init", "microglia_init", "microglia", "tregs", "msc", "mesa", "individual")
# A further region of the same individual has its own tissue; its blood (MSC) and its draw are the individual's.
TISSUE_STREAMS = ("neurons_init", "microglia_init", "microglia", "tregs", "mesa")
REGION_SPAWN_KEY = 1_000  # seeds region k's tissue streams from SeedSequence(seed, spawn_key=(1000, k))
F = FIELD_INDEX
# Every pathway's recorded state, 0 where the pathway is off or the arm has no infusions (same columns in both arms).
PATHWAY_COLUMNS = {column: 0.0 for cls in REGISTRY.values() for column in cls.columns}


class NumericalError(RuntimeError):
    """A field became non-finite; the message names the field and the step."""


@dataclass(frozen=True)
class Individual:
    """One virtual individual of the cohort: multipliers on the preset's reference individual."""

    drive_multiplier: float = 1.0
    treg_multiplier: float = 1.0


def draw_individual(d: DiseaseConfig, rng: np.random.Generator) -> Individual:
    """Lognormal (median 1) between-individual variability in progression drive and systemic Treg level.

    Drawn from the seed's own stream, so both arms of a pair are the same individual. Fast vs slow
    progressors: Knibb et al. 2016 JNNP 87:1361 (σ_log survival ≈ 1 in patients); Wooley et al. 2005
    Muscle Nerve 32:43 (survival CV 6–9 % in SOD1-G93A mice); Treg spread: Henkel et al. 2013 EMBO Mol Med 5:64.
    """
    z = rng.standard_normal(2)  # always two draws, so one SD of 0 leaves the other draw unchanged
    return individual_at(d, z[0], z[1])


def individual_at(d: DiseaseConfig, z_drive: float, z_treg: float) -> Individual:
    """The individual z_drive and z_treg standard deviations from the median on the preset's lognormal spreads."""
    return Individual(drive_multiplier=float(np.exp(d.individual_drive_sd_log * z_drive)),
                      treg_multiplier=float(np.exp(d.individual_treg_sd_log * z_treg)))


def region_streams(seed: int, region: int = 0) -> dict[str, np.random.Generator]:
    """The named random streams of one region of the individual `seed` (region 0: the seed's own streams)."""
    streams = dict(zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS))))
    if region:
        tissue = np.random.SeedSequence(seed, spawn_key=(REGION_SPAWN_KEY, region)).spawn(len(TISSUE_STREAMS))
        streams.update(zip(TISSUE_STREAMS, tissue))
    return {name: np.random.default_rng(s) for name, s in streams.items()}


@dataclass
class StepContext:
    """Per-step inputs shared by the vectorized rules and the per-agent `step()` methods."""

    day: float = 0.0
    dt_h: float = 1.0
    dt_days: float = 1.0 / 24
    drive: float = 0.0
    neuron_inputs: np.ndarray = field(default_factory=lambda: np.zeros((6, 0)))
    blood_products: float = 0.0
    neuron_died: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    microglia_inputs: np.ndarray = field(default_factory=lambda: np.zeros((5, 0)))
    microglia_u: np.ndarray = field(default_factory=lambda: np.zeros(0))
    neuron_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))


class ALSModel(mesa.Model):
    """A 2-D patch of lumbar ventral horn with motor neurons, microglia, Tregs and IV MSCs."""

    def __init__(self, cfg: SimConfig, arm: str = "control", individual: Individual | None = None, region: int = 0):
        """`individual` replaces the seed's own draw (a stratified calibration cohort); None draws it from the seed.

        `region` > 0 simulates a further body region of the same individual (sim/spread.py): its own tissue,
        its local disease clock behind the onset region's.
        """
        self.rngs = region_streams(cfg.seed, region)
        super().__init__(rng=self.rngs["mesa"])
        self.cfg, self.arm = cfg, arm
        d, dom = cfg.disease, cfg.domain
        self.dt_h = d.dt_hours
        self.shape = grid_shape(dom)
        self.dx = dom.voxel_um
        self.width, self.height = self.shape[1] * self.dx, self.shape[0] * self.dx
        self.area_mm2 = self.width * self.height / 1e6
        self.patch_volume_mm3 = self.area_mm2 * dom.slab_thickness_um / 1e3
        self.n_steps = int(round((d.horizon_days - d.start_day) * 24 / self.dt_h))
        self.ctx = StepContext(dt_h=self.dt_h, dt_days=self.dt_h / 24)
        self.individual = individual or draw_individual(d, self.rngs["individual"])
        self.region = region
        self.lag_days = spread.region_lag_days(d, self.individual.drive_multiplier, region)

        self.neuron_store = Columns(mn.SCHEMA)
        self.microglia_store = Columns(mg.SCHEMA)
        self.treg_store = Columns(tr.SCHEMA)
        self.msc_store = Columns(msc_mod.SCHEMA)
        self._init_fields()
        self._place_neurons()
        self._place_microglia()

        self.msc_infused = 0
        self.msc_cleared = 0
        self.burden_per_kg = 0.0
        self.blood_products = 0.0
        self.infusions_given: list[float] = []
        self._deaths_idx = np.zeros(0, dtype=int)
        self._neuron_voxel_cache: np.ndarray | None = None
        self._uptake_alive = -1  # number of living neurons the cached trophic-uptake factor was made for
        self._uptake_factor: np.ndarray | None = None
        self._doses = infusion_days(cfg.treatment, d) if arm == "treated" else []
        for day in self._doses:
            self.schedule_event(self.infuse, at=(day - d.start_day) * 24 / self.dt_h)
        # Pathways act through infused cells only: an arm without infusions has none (and is exactly the control).
        self.pathways = switched_on(cfg) if self._doses else []
        self._manipulation = cfg.manipulation if manipulation.changes_anything(cfg.manipulation) else None
        self._environment(d.start_day)

    # ------------------------------------------------------------------ set-up
    def _init_fields(self) -> None:
        f, dom = self.cfg.fields, self.cfg.domain
        self.base_decay = decay_per_h(f)
        self.solver = FieldSolver(self.shape, self.dx, diffusion_um2_per_h(f), self.base_decay, self.dt_h)
        voxel_l = self.dx**2 * dom.slab_thickness_um * dom.ecs_fraction * 1e-15
        self.per_molecule = np.array([molecules_per_s_to_rate(s, voxel_l) for s in FIELD_SPECS])
        # Microglial release, one row per field: (flat field offset, molecules/s per cell, per-molecule factor,
        # weight row: 0 = pro-inflammatory programme, 1 = protective); a cell releases rate·w of each.
        p = self.cfg.microglia
        rows = ((F["tnf"], p.pro_tnf, 0), (F["il1b"], p.pro_il1b, 0), (F["ros"], p.pro_ros, 0),
                (F["glutamate"], p.pro_glutamate, 0), (F["il10"], p.protective_il10, 1), (F["tgfb"], p.protective_tgfb, 1),
                (F["bdnf"], p.protective_bdnf, 1), (F["gdnf"], p.protective_gdnf, 1))
        fields = np.array([f for f, _, _ in rows])
        self._microglia_release = (fields[:, None] * (self.shape[0] * self.shape[1]), np.array([r for _, r, _ in rows])[:, None],
                                   self.per_molecule[fields][:, None], [k for _, _, k in rows])
        start = np.zeros((len(FIELD_NAMES), *self.shape))
        start[F["glutamate"]] = f.glutamate_ambient_um
        self.solver.set_values(start)

    def _place_neurons(self) -> None:
        d, p, rng = self.cfg.disease, self.cfg.neurons, self.rngs["neurons_init"]
        n = max(1, int(round(p.density_per_mm2 * self.area_mm2)))
        xy = rng.uniform([self.dx, self.dx], [self.width - self.dx, self.height - self.dx], size=(n, 2))
        unit_type = rng.choice(3, size=n, p=[d.ff_fraction, d.fr_fraction, 1 - d.ff_fraction - d.fr_fraction])
        type_mult = np.array([d.ff_vulnerability, d.fr_vulnerability, d.s_vulnerability])[unit_type]
        vuln = type_mult * np.exp(d.vulnerability_sd_log * rng.standard_normal(n))
        for i in range(n):
            MotorNeuron(self, x=xy[i, 0], y=xy[i, 1], health=1.0, vulnerability=vuln[i], unit_size=1.0,
                        alive=True, unit_type=unit_type[i], death_day=np.nan)
        self.n_neurons = n

    def _place_microglia(self) -> None:
        rng = self.rngs["microglia_init"]
        n = int(round(self.cfg.microglia.density_per_mm2 * self.area_mm2))
        xy = rng.uniform([0, 0], [self.width, self.height], size=(n, 2))
        for i in range(n):
            Microglia(self, x=xy[i, 0], y=xy[i, 1], state=mg.SURVEILLANT)
        self.microglia_capacity = self.cfg.microglia.max_fold * max(n, 1)

    # ------------------------------------------------------------------ helpers
    @property
    def day(self) -> float:
        return self.cfg.disease.start_day + self.time * self.dt_h / 24.0

    def _neuron_voxels(self) -> np.ndarray:
        """Flat voxel index of every motor neuron (neurons never move, so it is computed once)."""
        s = self.neuron_store
        if self._neuron_voxel_cache is None or len(self._neuron_voxel_cache) != len(s):
            self._neuron_voxel_cache = self.voxel(s["x"], s["y"])
        return self._neuron_voxel_cache

    @property
    def n_voxels(self) -> int:
        return self.shape[0] * self.shape[1]

    def voxel(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat voxel index of positions (positions are kept inside [0, width] × [0, height])."""
        ix = np.minimum((x * (1.0 / self.dx)).astype(np.intp), self.shape[1] - 1)
        iy = np.minimum((y * (1.0 / self.dx)).astype(np.intp), self.shape[0] - 1)
        return iy * self.shape[1] + ix

    def _sample(self, names: tuple[str, ...], flat_idx: np.ndarray) -> np.ndarray:
        """Values of the named fields in the given voxels, shape (len(names), len(flat_idx)) (gathers only those)."""
        flat = self.solver.values.reshape(len(FIELD_NAMES), -1)
        return flat[np.array([F[n] for n in names])[:, None], flat_idx[None, :]]

    def _environment(self, day: float) -> None:
        """The step's environment: the disease's own curves, then the manipulation, then the pathways."""
        d = self.cfg.disease
        local_day = day - self.lag_days  # the region's local disease clock
        env = disease_environment(d, local_day, d.treg_systemic_baseline * self.individual.treg_multiplier)
        if self._manipulation is not None:
            manipulation.apply(self._manipulation, env, local_day, d.bscb_leak_baseline)
        for pathway in self.pathways:
            pathway.act(env)
        env.blood_products = self.blood_products
        self.env = env
        self.mean_damage = float(self.solver.values[F["damage"]].mean())

    # compatibility names for read-outs and tests
    @property
    def leak(self) -> float:
        return self.env.leak

    @property
    def eaat2(self) -> float:
        return self.env.eaat2

    @property
    def treg_level(self) -> float:
        return self.env.treg_level

    # ------------------------------------------------------------------ dosing
    def infuse(self) -> None:
        """Mesa event: one IV infusion (`sim.pk.infuse`)."""
        pk.infuse(self)
        self.infusions_given.append(self.day)

    # ------------------------------------------------------------------ the step
    def step(self) -> None:
        ctx = self.ctx
        ctx.day = self.day - self.dt_h / 24.0  # Mesa advanced time already: use the interval's start
        self._environment(ctx.day)
        self.damage_gradient = self.solver.gradient(F["damage"])
        self._step_neurons()
        self._step_microglia()
        tr.step(self)
        engulfed = pk.step(self)
        if self.pathways:
            exposure = Exposure(self.burden_per_kg, engulfed / self.cfg.disease.body_weight_kg / ctx.dt_days)
            for pathway in self.pathways:
                pathway.advance(exposure, ctx.dt_days)
        self._step_fields()
        self.blood_products = relax(self.blood_products, self.env.leak, self.cfg.disease.blood_product_clearance_days, ctx.dt_days)

    def _step_neurons(self) -> None:
        d, p, ctx, s = self.cfg.disease, self.cfg.neurons, self.ctx, self.neuron_store
        ctx.drive = mn.intrinsic_drive(ctx.day - self.lag_days, d.drive_per_day * self.individual.drive_multiplier, d.drive_ref_day,
                                       d.drive_exponent, d.drive_offset_days)
        idx = self._neuron_voxels()
        inputs = self._sample(("tnf", "il1b", "ros", "glutamate", "bdnf", "gdnf"), idx)
        inputs[3] = np.maximum(inputs[3] - self.cfg.fields.glutamate_ambient_um, 0.0)  # glutamate above ambient
        ctx.neuron_inputs = inputs
        ctx.blood_products = self.env.blood_products
        died = self._neuron_rules()
        s["alive"][died] = False
        s["death_day"][died] = self.day
        self._deaths_idx = idx[died]
        s["unit_size"][:] = mn.update_unit_size(s["unit_size"], s["health"], s["alive"], self.n_neurons, p, ctx.dt_days)

    def _step_microglia(self) -> None:
        p, ctx, s, rng = self.cfg.microglia, self.ctx, self.microglia_store, self.rngs["microglia"]
        n = len(s)
        if n == 0:
            return
        idx = self.voxel(s["x"], s["y"])
        damage, tnf, il10, tgfb = self._sample(("damage", "tnf", "il10", "tgfb"), idx)
        t = self.treg_store
        push = self.env.microglia_push + p.treg_contact_weight * self.contacts(s["x"], s["y"], t["x"], t["y"])
        for pathway in self.pathways:
            extra = pathway.microglia_push(self, s)
            if extra is not None:
                push = push + extra
        ctx.microglia_inputs = np.stack([damage, tnf, il10, tgfb, np.broadcast_to(push, damage.shape)])
        ctx.microglia_u = rng.random(n)
        normals = rng.standard_normal((2, n))
        u_birth, u_death = rng.random(n), rng.random(n)
        self._microglia_rules()
        gy, gx = self.damage_gradient
        grad_scale = p.k_damage_pm / 100.0  # gradients above K_D per 100 µm saturate the speed
        s["x"][:], s["y"][:] = mg.chemotaxis_step(s["x"], s["y"], gy.ravel()[idx], gx.ravel()[idx], normals, p.speed_um_per_h,
                                                  p.random_motility_um2_per_h, grad_scale, ctx.dt_h, self.width, self.height)
        mg.births_and_deaths(self, damage, u_birth, u_death)

    def _neuron_rules(self) -> np.ndarray:
        """Health update of every neuron from `ctx` by the configured engine; returns the mask of new deaths."""
        ctx, s = self.ctx, self.neuron_store
        if self.cfg.engine == "agents":
            ctx.neuron_died = np.zeros(len(s), bool)
            ctx.neuron_rate = np.zeros(len(s))
            self.agents_by_type[MotorNeuron].do("step")
            return ctx.neuron_died
        ctx.neuron_rate = mn.damage_rate(ctx.drive, s["vulnerability"], *ctx.neuron_inputs, ctx.blood_products, self.cfg.neurons)
        s["health"][:], died = mn.update_health(s["health"], s["alive"], ctx.neuron_rate, ctx.dt_days)
        return died

    def _microglia_rules(self) -> None:
        """State transition of every microglial cell from `ctx` by the configured engine."""
        ctx, s = self.ctx, self.microglia_store
        if self.cfg.engine == "agents":
            self.agents_by_type[Microglia].do("step")
        else:
            rates = mg.transition_rates(s["state"], *ctx.microglia_inputs, self.cfg.microglia,
                                        self.env.microglia_activation, self.env.microglia_pro_inflammatory)
            s["state"][:] = mg.next_state(s["state"], rates, ctx.microglia_u, ctx.dt_h)

    def contacts(self, x: np.ndarray, y: np.ndarray, ox: np.ndarray, oy: np.ndarray) -> np.ndarray:
        """Number of the other cells (ox, oy) within the contact radius of each cell (x, y)."""
        if len(ox) == 0 or len(x) == 0:
            return np.zeros(len(x))
        r = self.cfg.microglia.contact_radius_um
        if len(x) * len(ox) <= BRUTE_FORCE_PAIRS:
            # all pairs: the k-d tree compares the same squared distance dx² + dy² with r², so the counts are equal
            dx = ox[None, :] - x[:, None]
            dy = oy[None, :] - y[:, None]
            return np.count_nonzero(dx * dx + dy * dy <= r * r, axis=1).astype(float)
        tree = cKDTree(np.column_stack([ox, oy]))
        return tree.query_ball_point(np.column_stack([x, y]), r, return_length=True).astype(float)

    def tissue_msc_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the MSCs inside the patch (the only cells the local pathways act through)."""
        s = self.msc_store
        inside = s["compartment"] == msc_mod.TISSUE
        return s["x"][inside], s["y"][inside]

    # ------------------------------------------------------------------ fields
    def _sources(self) -> np.ndarray:
        """Secretion of every agent as concentration rates (unit/h) per voxel.

        Every release is listed as (flat field·voxel index, amount) and summed by one bincount; the order of
        the list (neurons, death bursts, microglia by field, Tregs, MSCs) fixes the order of the additions.
        """
        nvox = self.shape[0] * self.shape[1]
        pm = self.per_molecule
        where: list[np.ndarray] = []
        amount: list[np.ndarray] = []

        n = self.neuron_store
        alive = n["alive"]
        nidx = self._neuron_voxels()[alive]
        if len(nidx):
            where.append(nidx + F["damage"] * nvox)
            amount.append(mn.chemokine_release(n["health"][alive], True, self.cfg.neurons) * pm[F["damage"]])
        if len(self._deaths_idx):
            where.append(self._deaths_idx + F["damage"] * nvox)
            amount.append(np.full(len(self._deaths_idx), self.cfg.neurons.death_burst_molecules / (self.dt_h * 3600.0) * pm[F["damage"]]))

        p, s = self.cfg.microglia, self.microglia_store
        if len(s):
            midx = self.voxel(s["x"], s["y"])
            pro = (s["state"] == mg.PRO_INFLAMMATORY).astype(float)
            prot = (s["state"] == mg.PROTECTIVE).astype(float)
            w_pro, w_prot = pro + p.mixed_output * prot, prot + p.mixed_output * pro
            offset, rates, per_molecule, which = self._microglia_release
            factors = np.concatenate([self.env.microglia_release, np.ones(len(which) - len(self.env.microglia_release))])[:, None]
            where.append((offset + midx[None, :]).ravel())
            amount.append(((rates * factors * np.stack([w_pro, w_prot])[which]) * per_molecule).ravel())

        t = self.treg_store
        if len(t):
            tidx = self.voxel(t["x"], t["y"])
            for name in ("il10", "tgfb"):
                where.append(tidx + F[name] * nvox)
                amount.append(np.full(len(tidx), getattr(self.cfg.tregs, name) * pm[F[name]]))

        for pathway in self.pathways:
            for idx, rate in pathway.release(self):
                where.append(idx)
                amount.append(rate)

        n_all = len(FIELD_NAMES) * nvox
        src = np.bincount(np.concatenate(where), np.concatenate(amount), minlength=n_all) if where else np.zeros(n_all)
        src = src.reshape(len(FIELD_NAMES), *self.shape)
        src[F["glutamate"]] += self.cfg.fields.glutamate_ambient_um * self.base_decay[F["glutamate"]]
        return src

    def _step_fields(self) -> None:
        env = self.env
        decay = self.base_decay.copy()
        decay[F["glutamate"]] *= env.eaat2 * env.glutamate_clearance
        decay[F["ros"]] *= env.ros_scavenging
        self.solver.set_decay(decay)
        values = self.solver.step(self._sources())
        self._apply_trophic_uptake()
        for pathway in self.pathways:
            pathway.after_fields(self)
        if not np.isfinite(values).all():
            bad = FIELD_NAMES[int(np.flatnonzero(~np.isfinite(values).reshape(len(FIELD_NAMES), -1).all(axis=1))[0])]
            raise NumericalError(f"field {bad!r} became non-finite at step {self.steps} (day {self.day:.2f}) of the {self.arm} arm")

    def _apply_trophic_uptake(self) -> None:
        k = self.cfg.neurons.trophic_uptake_per_h
        alive = self.neuron_store["alive"]
        n_alive = int(np.count_nonzero(alive))
        if k <= 0 or n_alive == 0:
            return
        if n_alive != self._uptake_alive:  # neurons only die, so the same count means the same living neurons
            count = np.bincount(self._neuron_voxels()[alive], minlength=self.shape[0] * self.shape[1])
            self._uptake_factor = self.solver.uptake_factor((k * count).reshape(self.shape))
            self._uptake_alive = n_alive
        self.solver.scale([F["bdnf"], F["gdnf"]], self._uptake_factor)

    # ------------------------------------------------------------------ read-outs
    def msc_cells(self) -> dict[str, int]:
        return pk.cells_by_compartment(self)

    def neuron_metrics(self) -> dict[str, float]:
        """The motor-neuron columns of a time-series row (all that a further body region contributes)."""
        n = self.neuron_store
        alive = n["alive"]
        return {
            "mn_alive": int(alive.sum()),
            "mn_alive_fraction": float(alive.mean()),
            "mn_mean_health": float(n["health"][alive].mean()) if alive.any() else 0.0,
            "functional_index": mn.functional_index(n["unit_size"], n["health"], alive, self.n_neurons, self.cfg.neurons),
            "motor_unit_index": mn.motor_unit_number_index(n["unit_size"], n["health"], alive, self.n_neurons, self.cfg.neurons),
        }

    def metrics(self) -> dict[str, float]:
        """One row of the time series (aggregate state after the last step)."""
        s = self.microglia_store
        row = {"arm": self.arm, "day": round(self.day, 6), **self.neuron_metrics()}
        for i, name in enumerate(FIELD_NAMES):
            row[f"mean_{name}"] = float(self.solver.values[i].mean())
        for code, name in enumerate(mg.STATE_NAMES):
            row[f"microglia_{name}"] = int((s["state"] == code).sum())
        row["microglia_total"] = len(s)
        row["tregs"] = len(self.treg_store)
        for name, cells in self.msc_cells().items():
            row[f"msc_{name}"] = cells
        env = self.env
        row.update(treg_systemic=env.treg_level, bscb_leak=env.leak, bscb_leak_untreated=env.leak_untreated, eaat2_fraction=env.eaat2,
                   blood_products=self.blood_products)
        row.update(PATHWAY_COLUMNS)
        for pathway in self.pathways:
            row.update(pathway.state())
        return row
