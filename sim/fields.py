"""Diffusing fields and their solver.

Each field obeys  ∂c/∂t = D∇²c − λc + S(x)  on the patch with zero-flux walls. Space is a
finite-volume grid of square voxels (5-point Laplacian, Neumann walls); with S held constant
over one agent step, every cosine mode of that grid evolves exactly:

    ĉ(t+Δt) = e^{−(Dκ+λ)Δt} ĉ(t) + (1 − e^{−(Dκ+λ)Δt}) Ŝ / (Dκ+λ),
    κ_ij = (4/Δx²)·[sin²(πi/2n_x) + sin²(πj/2n_y)]  (eigenvalues of −∇² on the grid, DCT-II modes).

This is the exact solution in time of the semi-discrete system, so it is unconditionally stable
for any Δt, conserves mass exactly when λ = 0, and stays non-negative (−∇²_h is an M-matrix,
so its exponential is entrywise non-negative), unlike the continuous-wavenumber propagator,
which rings around point sources. As Δx → 0, κ → k² and it converges to the continuous PDE.
Uptake by cells is applied per voxel afterwards (operator splitting, exact exponential).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft

from sim.config import FieldsConfig

AVOGADRO = 6.02214076e23
LN2 = np.log(2.0)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    unit: str
    molar_scale: float  # unit per mol/L (pM → 1e12)
    label: str


FIELD_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec("tnf", "pM", 1e12, "TNF-α"),
    FieldSpec("il1b", "pM", 1e12, "IL-1β"),
    FieldSpec("il10", "pM", 1e12, "IL-10"),
    FieldSpec("tgfb", "pM", 1e12, "TGF-β (active)"),
    FieldSpec("bdnf", "pM", 1e12, "BDNF"),
    FieldSpec("gdnf", "pM", 1e12, "GDNF"),
    FieldSpec("ros", "nM", 1e9, "ROS (H2O2)"),
    FieldSpec("glutamate", "µM", 1e6, "glutamate"),
    FieldSpec("damage", "pM", 1e12, "damage/chemokine"),
)
FIELD_NAMES: tuple[str, ...] = tuple(s.name for s in FIELD_SPECS)
FIELD_INDEX: dict[str, int] = {n: i for i, n in enumerate(FIELD_NAMES)}


def diffusion_um2_per_h(cfg: FieldsConfig) -> np.ndarray:
    return np.array([getattr(cfg, f"{n}_diffusion_um2_s") * 3600.0 for n in FIELD_NAMES])


def decay_per_h(cfg: FieldsConfig) -> np.ndarray:
    return np.array([LN2 / getattr(cfg, f"{n}_half_life_h") for n in FIELD_NAMES])


def laplacian_eigenvalues(ny: int, nx: int, dx: float) -> np.ndarray:
    """κ_ij ≥ 0 of −∇² (5-point, Neumann) for the DCT-II modes, shape (ny, nx), in 1/µm²."""
    ky = 4.0 * np.sin(np.pi * np.arange(ny) / (2 * ny)) ** 2 / dx**2
    kx = 4.0 * np.sin(np.pi * np.arange(nx) / (2 * nx)) ** 2 / dx**2
    return ky[:, None] + kx[None, :]


def molecules_per_s_to_rate(spec: FieldSpec, voxel_volume_l: float) -> float:
    """Concentration rate (unit/h) in one voxel from one cell releasing 1 molecule/s."""
    return 3600.0 / AVOGADRO / voxel_volume_l * spec.molar_scale


def _as_slice(indices: list[int]) -> slice | list[int]:
    """Consecutive field indices as a slice (a view instead of fancy-indexed copies), else unchanged."""
    idx = [int(i) for i in indices]
    if idx and idx == list(range(idx[0], idx[0] + len(idx))):
        return slice(idx[0], idx[0] + len(idx))
    return idx


class FieldSolver:
    """Exact-in-time propagator for a stack of fields sharing one grid.

    Spectra are cached, so a step costs one forward DCT of the sources and one inverse DCT. A solver can
    join a `FieldBatch`: its arrays then become views into the batch's stacks, which advance all their
    individuals with one transform (`FieldBatch.step`); the per-solver methods keep acting on its own row.
    """

    def __init__(self, shape: tuple[int, int], dx_um: float, diffusion: np.ndarray, decay: np.ndarray, dt_h: float):
        self.shape = shape
        self.dx = dx_um
        self.dt = dt_h
        self.kappa = laplacian_eigenvalues(*shape, dx_um)
        self.diffusion = np.asarray(diffusion, dtype=float)
        self.n = len(self.diffusion)
        self.values = np.zeros((self.n, *shape))
        self._spectrum = np.zeros((self.n, *shape))
        self._decay = np.full(self.n, np.nan)
        self._E = np.empty((self.n, *shape))
        self._G = np.empty((self.n, *shape))
        self.set_decay(decay)

    def set_decay(self, decay: np.ndarray) -> None:
        """Update first-order loss rates (1/h); factors are recomputed only for fields that changed."""
        decay = np.asarray(decay, dtype=float)
        for i in np.flatnonzero(decay != self._decay):
            self._E[i], self._G[i] = decay_factors(self.diffusion[i], self.kappa, decay[i], self.dt)
        self._decay[:] = decay

    def set_values(self, values: np.ndarray) -> None:
        self.values[...] = np.asarray(values, dtype=float).reshape(self.n, *self.shape)
        self._spectrum[...] = fft.dctn(self.values, type=2, axes=(-2, -1), norm="ortho")

    def step(self, sources: np.ndarray) -> np.ndarray:
        """Advance all fields by dt with sources (unit/h per voxel) held constant; return values."""
        advance(self._spectrum, self._E, self._G, sources, out=self.values)
        return self.values

    def apply_uptake(self, indices: list[int], rate_per_h: np.ndarray) -> None:
        """Per-voxel first-order uptake (operator split): c ← c·exp(−k(x)Δt) for the given fields.

        rate_per_h has shape (ny, nx) (the same for each listed field) or (len(indices), ny, nx).
        """
        self.scale(indices, self.uptake_factor(rate_per_h))

    def uptake_factor(self, rate_per_h: np.ndarray) -> np.ndarray:
        """exp(−k·Δt): the factor `apply_uptake` multiplies by (callers may keep it while k does not change)."""
        return np.exp(-rate_per_h * self.dt)

    def scale(self, indices: list[int], factor: np.ndarray) -> None:
        """Multiply the listed fields voxel-wise by factor (≥ 0) and keep the spectra in step."""
        sel = _as_slice(indices)
        self.values[sel] *= factor
        self._spectrum[sel] = fft.dctn(self.values[sel], type=2, axes=(-2, -1), norm="ortho")

    def gradient(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(∂c/∂y, ∂c/∂x) of one field in unit/µm (central differences, one-sided at walls)."""
        return gradient(self.values[index], self.dx)


def decay_factors(diffusion: float, kappa: np.ndarray, decay, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """E = e^{−(Dκ+λ)Δt} and G = (1 − E)/(Dκ+λ) for one field; `decay` a scalar or one λ per row (shape (k, 1, 1)).

    D·κ with κ = 0 is 0 even for a D so large that D·κ overflows to inf elsewhere (inf·0 would be NaN); an
    infinite rate then gives E = G = 0: that mode is flattened at once, as infinite diffusion would. A mode
    with no loss at all (λ = 0, uniform mode) gains S·Δt. The same arithmetic element by element whatever
    the number of rows, so a batch's factors equal its individuals' own.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        rate = np.where(kappa > 0, diffusion * kappa, 0.0) + decay
        x = -rate * dt
        return np.exp(x), np.where(rate > 0, -np.expm1(x) / rate, dt)


def advance(spectrum: np.ndarray, E: np.ndarray, G: np.ndarray, sources: np.ndarray, out: np.ndarray) -> None:
    """One exact step of every mode (the last two axes are the grid): spectrum and `out` (values) in place.

    Only planes that need a transform get one: a plane with no source this step only decays (its Ŝ is 0), and a
    plane whose spectrum is all zero is zero (often a quarter of the planes: cytokines nothing releases yet,
    an arm's MSC-driven fields before its infusion). Each plane is transformed on its own, so which other
    planes are present never changes it.
    """
    grid = sources.shape[-2:]
    src = sources.reshape(-1, *grid)
    spec, val = spectrum.reshape(-1, *grid, copy=False), out.reshape(-1, *grid, copy=False)  # views: written through
    spectrum *= E
    active = _nonzero_planes(src)
    if active is None:
        spec += fft.dctn(src, type=2, axes=(-2, -1), norm="ortho") * G.reshape(-1, *grid)
    elif len(active):
        spec[active] += fft.dctn(src[active], type=2, axes=(-2, -1), norm="ortho") * G.reshape(-1, *grid)[active]
    live = _nonzero_planes(spec)
    if live is None:
        values = fft.idctn(spec, type=2, axes=(-2, -1), norm="ortho")
        np.maximum(values, 0.0, out=val)  # round-off can leave −1e-17-sized values where the exact answer is ≥ 0
        return
    val[...] = 0.0
    if len(live):
        val[live] = np.maximum(fft.idctn(spec[live], type=2, axes=(-2, -1), norm="ortho"), 0.0)


def _nonzero_planes(planes: np.ndarray) -> np.ndarray | None:
    """Indices of the planes with any non-zero entry, or None when every plane has one (the common case)."""
    nonzero = planes.reshape(len(planes), -1).any(axis=1)
    return None if nonzero.all() else np.flatnonzero(nonzero)


def gradient(c: np.ndarray, dx: float) -> tuple[np.ndarray, np.ndarray]:
    """(∂c/∂y, ∂c/∂x) over the last two axes in unit/µm (central differences, one-sided at walls).

    The same arithmetic as `np.gradient(c, dx)` (identical values), without its per-call overhead.
    """
    gy, gx = np.empty_like(c), np.empty_like(c)
    np.divide(c[..., 2:, :] - c[..., :-2, :], 2.0 * dx, out=gy[..., 1:-1, :])
    np.divide(c[..., 1, :] - c[..., 0, :], dx, out=gy[..., 0, :])
    np.divide(c[..., -1, :] - c[..., -2, :], dx, out=gy[..., -1, :])
    np.divide(c[..., 2:] - c[..., :-2], 2.0 * dx, out=gx[..., 1:-1])
    np.divide(c[..., 1] - c[..., 0], dx, out=gx[..., 0])
    np.divide(c[..., -1] - c[..., -2], dx, out=gx[..., -1])
    return gy, gx


class FieldBatch:
    """The fields of B individuals on one grid, stacked (B, fields, ny, nx) so one transform advances them all.

    Joining rebinds each solver's arrays to its row of the stacks (its values and spectrum are kept); every
    operation is element-wise or a transform along the grid axes, so each individual's fields are the ones
    its own solver would compute alone (tested bit for bit).
    """

    def __init__(self, solvers: list[FieldSolver]):
        first = solvers[0]
        if any(s.shape != first.shape or s.dx != first.dx or s.dt != first.dt or not np.array_equal(s.diffusion, first.diffusion)
               for s in solvers):
            raise ValueError("a field batch needs one grid, time step and set of diffusion coefficients")
        self.solvers, self.dx, self.dt, self.kappa, self.diffusion = solvers, first.dx, first.dt, first.kappa, first.diffusion
        self.values = np.stack([s.values for s in solvers])
        self.spectrum = np.stack([s._spectrum for s in solvers])
        self.E = np.stack([s._E for s in solvers])
        self.G = np.stack([s._G for s in solvers])
        self.decay = np.stack([s._decay for s in solvers])
        for b, s in enumerate(solvers):
            s.values, s._spectrum, s._E, s._G, s._decay = self.values[b], self.spectrum[b], self.E[b], self.G[b], self.decay[b]

    def set_decay(self, decay: np.ndarray) -> None:
        """One row of loss rates (1/h) per individual; factors are recomputed only where a rate changed."""
        changed = decay != self.decay
        for i in np.flatnonzero(changed.any(axis=0)):
            rows = np.flatnonzero(changed[:, i])
            E, G = decay_factors(self.diffusion[i], self.kappa, decay[rows, i][:, None, None], self.dt)
            self.E[rows, i], self.G[rows, i] = E, G
        self.decay[...] = decay

    def step(self, sources: np.ndarray) -> np.ndarray:
        advance(self.spectrum, self.E, self.G, sources, out=self.values)
        return self.values

    def scale(self, rows: np.ndarray, fields: slice, factor: np.ndarray) -> None:
        """Multiply `fields` of the individuals `rows` voxel-wise by factor (shape (len(rows), ny, nx))."""
        if len(rows) == len(self.solvers):
            self.values[:, fields] *= factor[:, None]
            self.spectrum[:, fields] = fft.dctn(self.values[:, fields], type=2, axes=(-2, -1), norm="ortho")
            return
        part = self.values[rows, fields] * factor[:, None]
        self.values[rows, fields] = part
        self.spectrum[rows, fields] = fft.dctn(part, type=2, axes=(-2, -1), norm="ortho")
