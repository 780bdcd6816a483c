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

    Spectra are cached, so a step costs one forward DCT of the sources and one inverse DCT.
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
            # D·κ with κ = 0 is 0 even for a D so large that D·κ overflows to inf elsewhere (inf·0 would be NaN);
            # an infinite rate then gives E = G = 0: that mode is flattened at once, as infinite diffusion would.
            with np.errstate(over="ignore", invalid="ignore"):
                rate = np.where(self.kappa > 0, self.diffusion[i] * self.kappa, 0.0) + decay[i]
            x = -rate * self.dt
            self._E[i] = np.exp(x)
            if rate.min() > 0:
                np.divide(-np.expm1(x), rate, out=self._G[i])
            else:  # a mode with no loss at all (λ = 0, uniform mode) gains S·Δt
                with np.errstate(divide="ignore", invalid="ignore"):
                    self._G[i] = np.where(rate > 0, -np.expm1(x) / rate, self.dt)
        self._decay = decay.copy()

    def set_values(self, values: np.ndarray) -> None:
        self.values = np.array(values, dtype=float).reshape(self.n, *self.shape)
        self._spectrum = fft.dctn(self.values, type=2, axes=(1, 2), norm="ortho")

    def step(self, sources: np.ndarray) -> np.ndarray:
        """Advance all fields by dt with sources (unit/h per voxel) held constant; return values."""
        s_hat = fft.dctn(sources, type=2, axes=(1, 2), norm="ortho")
        self._spectrum *= self._E
        s_hat *= self._G
        self._spectrum += s_hat
        values = fft.idctn(self._spectrum, type=2, axes=(1, 2), norm="ortho")
        # Round-off can leave −1e-17-sized values where the exact answer is ≥ 0.
        np.maximum(values, 0.0, out=values)
        self.values = values
        return values

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
        self._spectrum[sel] = fft.dctn(self.values[sel], type=2, axes=(1, 2), norm="ortho")

    def gradient(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(∂c/∂y, ∂c/∂x) of one field in unit/µm (central differences, one-sided at walls).

        The same arithmetic as `np.gradient(c, dx)` (identical values), without its per-call overhead.
        """
        c, dx = self.values[index], self.dx
        gy, gx = np.empty_like(c), np.empty_like(c)
        np.divide(c[2:] - c[:-2], 2.0 * dx, out=gy[1:-1])
        np.divide(c[1] - c[0], dx, out=gy[0])
        np.divide(c[-1] - c[-2], dx, out=gy[-1])
        np.divide(c[:, 2:] - c[:, :-2], 2.0 * dx, out=gx[:, 1:-1])
        np.divide(c[:, 1] - c[:, 0], dx, out=gx[:, 0])
        np.divide(c[:, -1] - c[:, -2], dx, out=gx[:, -1])
        return gy, gx
