"""ALSModel: wires agents, fields, pharmacokinetics, MSC pathways and manipulations; defines the order of one step.

One step (default 1 h) in this order:
1. environment (`sim.environment`): barrier leak and EAAT2 uptake of the day, then any experimental
   manipulation (`sim.manipulation`), then every switched-on MSC pathway (`sim.pathways`) changes it;
2. motor neurons read their fields and the blood-derived products, lose health, die (damage burst), survivors sprout;
3. microglia switch state (damage vs IL-10/TGF-β, Treg and pathway pushes), move, divide, die;
4. Tregs wander, leave and arrive (`sim.agents.treg`); 5. MSC packets move between blood/lung/cleared, a
   few cells may home, tissue MSCs move and die (`sim.pk.step`); 6. the pathways' memories advance on this
   step's exposure;
7. every agent's and pathway's secretion becomes a source; the fields advance exactly over the step; uptake
   and local pathway effects; blood-derived products follow the leak.
Infusions are Mesa events scheduled at their hour. Random numbers come from one independent
stream per process (spawned from one SeedSequence), so a treated arm with zero dose reproduces
the control arm exactly and treated/control pairs share all draws treatment does not touch.
The biology lives in the modules named above; this class keeps the wiring (set-up, environment, read-outs).
The step itself is run by the batched engine, `sim.cohort`, for many models at once; `step()` runs it for
this model alone (a cohort of one), so a model stepped alone and in a cohort compute the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import mesa
import numpy as np

from sim import manipulation, pk, spread
from sim.agents import Microglia, MotorNeuron
from sim.agents import microglia as mg
from sim.agents import motor_neuron as mn
from sim.agents import msc as msc_mod
from sim.agents import treg as tr
from sim.agents.base import Columns
from sim.cohort import Cohort, NumericalError, contacts_by_cell  # noqa: F401 - NumericalError: public name here too
from sim.config import DiseaseConfig, SimConfig, grid_shape
from sim.environment import disease_environment
from sim.fields import FIELD_INDEX, FIELD_NAMES, FIELD_SPECS, FieldSolver, decay_per_h, diffusion_um2_per_h, molecules_per_s_to_rate
from sim.pathways import REGISTRY, switched_on
from sim.treatment import infusion_days

STREAMS = ("neurons_init", "microglia_init", "microglia", "tregs", "msc", "mesa", "individual")
# A further region of the same individual has its own tissue; its blood (MSC) and its draw are the individual's.
TISSUE_STREAMS = ("neurons_init", "microglia_init", "microglia", "tregs", "mesa")
REGION_SPAWN_KEY = 1_000  # seeds region k's tissue streams from SeedSequence(seed, spawn_key=(1000, k))
F = FIELD_INDEX
NO_POSITIONS = (np.zeros(0), np.zeros(0))
# Every pathway's recorded state, 0 where the pathway is off or the arm has no infusions (same columns in both arms).
PATHWAY_COLUMNS = {column: 0.0 for cls in REGISTRY.values() for column in cls.columns}


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
        self.tissue_msc_count = 0  # kept by `sim.pk`: lets the local pathways skip patches without MSCs at once
        self.msc_cleared = 0
        self.msc_entered = 0  # cells that entered the patch so far (homing or from the CSF), kept by `sim.pk`
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
        self._in_cohort = False  # set while a `Cohort` advances Mesa's clock after running the step itself
        self._solo: Cohort | None = None
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

    def _environment(self, day: float, mean_damage: float | None = None) -> None:
        """The step's environment: the disease's own curves, then the manipulation, then the pathways.

        `mean_damage`: the patch's mean damage signal when the caller computed it already (a cohort does, for all).
        """
        d = self.cfg.disease
        local_day = day - self.lag_days  # the region's local disease clock
        env = disease_environment(d, local_day, d.treg_systemic_baseline * self.individual.treg_multiplier)
        if self._manipulation is not None:
            manipulation.apply(self._manipulation, env, local_day, d.bscb_leak_baseline)
        for pathway in self.pathways:
            pathway.act(env)
        env.blood_products = self.blood_products
        self.env = env
        self.mean_damage = float(self.solver.values[F["damage"]].mean()) if mean_damage is None else mean_damage

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
        """Mesa's step: this model's step as a cohort of one (`sim.cohort`), unless a cohort is driving it."""
        if self._in_cohort:
            return  # the cohort ran this step's body for all its models already
        if self._solo is None:
            self._solo = Cohort([self])
        self._solo.body(self.steps)
        if self._solo.failures:
            raise self._solo.failures[0]

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
        """Number of the other cells (ox, oy) within the contact radius of each cell (x, y) (`sim.cohort.contacts_by_cell`)."""
        return contacts_by_cell(x, y, np.zeros(len(x), np.int64), ox, oy, np.zeros(len(ox), np.int64), self.cfg.microglia.contact_radius_um)

    def tissue_msc_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the MSCs inside the patch (the only cells the local pathways act through)."""
        if not self.tissue_msc_count:
            return NO_POSITIONS
        s = self.msc_store
        inside = s["compartment"] == msc_mod.TISSUE
        return s["x"][inside], s["y"][inside]

    # ------------------------------------------------------------------ fields
    def _sources(self) -> np.ndarray:
        """Secretion of every agent as concentration rates (unit/h) per voxel (`Cohort.sources` for this model alone)."""
        if self._solo is None:
            self._solo = Cohort([self])
        return self._solo.sources()[0]

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
