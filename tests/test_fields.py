"""Numerical tests of the exact-in-time DCT field solver (`sim.fields`).

Every reference here is built independently of the solver's DCT machinery: cosine modes are
written out by hand, the 5-point Neumann Laplacian is assembled with scipy.sparse, steady states
come from a sparse direct solve and arbitrary-data trajectories from a dense eigendecomposition.
Diffusion coefficients and decay rates are the real defaults of `FieldsConfig`, converted to the
solver's units (µm²/h, 1/h) by `diffusion_um2_per_h` / `decay_per_h`.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy import fft

from sim.config import DomainConfig, FieldsConfig
from sim.fields import (FIELD_INDEX, FIELD_NAMES, FIELD_SPECS, FieldSolver, decay_per_h, diffusion_um2_per_h,
                        laplacian_eigenvalues, molecules_per_s_to_rate)

FC = FieldsConfig()
DOM = DomainConfig()
D_ALL = diffusion_um2_per_h(FC)  # µm²/h
LAM_ALL = decay_per_h(FC)  # 1/h
NF = len(FIELD_NAMES)


def D(name: str) -> float:
    return float(D_ALL[FIELD_INDEX[name]])


def LAM(name: str) -> float:
    return float(LAM_ALL[FIELD_INDEX[name]])


# --------------------------------------------------------------------------- references
def neumann_laplacian(ny: int, nx: int, dx: float) -> sp.csr_matrix:
    """−∇²_h: finite-volume 5-point Laplacian with zero-flux walls, C-order (row = y, column = x)."""

    def one_d(n: int) -> sp.csr_matrix:
        main = np.full(n, 2.0)
        main[[0, -1]] = 1.0  # a wall voxel has one neighbour on that axis
        return sp.diags([-np.ones(n - 1), main, -np.ones(n - 1)], [-1, 0, 1], format="csr")

    return ((sp.kron(sp.identity(ny), one_d(nx)) + sp.kron(one_d(ny), sp.identity(nx))) / dx**2).tocsr()


def cosine_mode(ny: int, nx: int, dx: float, i: int, j: int) -> np.ndarray:
    """cos(πi(x+½dx)/Lx)·cos(πj(y+½dx)/Ly) on voxel corners x = k·dx (i along x, j along y)."""
    x = np.arange(nx) * dx
    y = np.arange(ny) * dx
    return np.cos(np.pi * j * (y + dx / 2) / (ny * dx))[:, None] * np.cos(np.pi * i * (x + dx / 2) / (nx * dx))[None, :]


def kappa(ny: int, nx: int, dx: float, i: int, j: int) -> float:
    return 4.0 / dx**2 * (np.sin(np.pi * i / (2 * nx)) ** 2 + np.sin(np.pi * j / (2 * ny)) ** 2)


def one_field(name: str, shape, dx: float, dt: float, decay: float | None = None) -> FieldSolver:
    lam = LAM(name) if decay is None else decay
    return FieldSolver(shape, dx, np.array([D(name)]), np.array([lam]), dt)


def dense_propagator(ny: int, nx: int, dx: float, diff: float, lam: float):
    """Exact one-step map of dc/dt = −(D·L + λ)c + S from a dense symmetric eigendecomposition."""
    A = (diff * neumann_laplacian(ny, nx, dx) + lam * sp.identity(ny * nx)).toarray()
    mu, V = np.linalg.eigh(A)
    mu = np.maximum(mu, 0.0)  # A is PSD; clamp −1e-13-sized round-off of the zero eigenvalue (λ = 0)

    def advance(c: np.ndarray, s: np.ndarray, dt: float) -> np.ndarray:
        g = np.where(mu * dt > 1e-300, -np.expm1(-mu * dt) / np.where(mu > 0, mu, 1.0), dt)
        return V @ (np.exp(-mu * dt) * (V.T @ c.ravel()) + g * (V.T @ s.ravel()))

    return advance


# --------------------------------------------------------------------------- eigenvalues
@pytest.mark.parametrize("shape,dx", [((7, 12), 20.0), ((16, 20), 25.0), ((50, 50), 20.0), ((30, 50), 25.0), ((2, 3), 30.0)])
def test_eigenvalues_are_those_of_the_5_point_neumann_laplacian(shape, dx):
    ny, nx = shape
    L = neumann_laplacian(ny, nx, dx)
    kap = laplacian_eigenvalues(ny, nx, dx)
    assert kap.shape == (ny, nx)
    assert kap[0, 0] == 0.0 and (kap >= 0).all()
    scale = 8.0 / dx**2  # largest possible eigenvalue; all comparisons are relative to it
    # Each DCT-II mode is an eigenvector: L·φ_ij = κ[j, i]·φ_ij (j indexes y = rows, i indexes x).
    for j, i in [(0, 1), (1, 0), (1, 1), (ny - 1, nx - 1), (ny // 2, nx // 3)]:
        phi = cosine_mode(ny, nx, dx, i, j).ravel()
        assert kap[j, i] == pytest.approx(kappa(ny, nx, dx, i, j), rel=1e-14, abs=1e-15 * scale)
        np.testing.assert_allclose(L @ phi, kap[j, i] * phi, rtol=0, atol=1e-12 * scale)
    # ...and together they are the whole spectrum (round-off of a dense eigh ~1e-15·‖L‖).
    if ny * nx <= 400:  # dense check only on small grids (keeps the test fast)
        np.testing.assert_allclose(np.sort(kap.ravel()), np.linalg.eigvalsh(L.toarray()), rtol=0, atol=1e-12 * scale)


# --------------------------------------------------------------------------- single modes
# (field, grid, dx µm, mode (i along x, j along y), dt h, steps). Domains are chosen so that the
# mode is still well above round-off of the constant background at the final time (D·κ·t ≤ 7.5).
MODE_CASES = [
    ("tnf", (50, 50), 20.0, (1, 0), 0.05, 40),     # standard 1 mm² patch, sub-step dt
    ("tnf", (50, 50), 20.0, (2, 3), 0.01, 20),     # higher mode, k·dx ≈ 0.23
    ("il10", (30, 50), 20.0, (1, 1), 1.0, 1),      # non-square, the model's 1 h step
    ("il10", (30, 50), 20.0, (1, 1), 0.25, 4),     # same t in 4 steps
    ("ros", (50, 50), 20.0, (1, 1), 1e-4, 10),     # D = 2500 µm²/s, t½ 2.2 s: dt 0.36 s
    ("damage", (40, 80), 25.0, (1, 0), 6.0, 2),    # non-square, dt = 6 h
    ("gdnf", (48, 80), 250.0, (1, 0), 1000.0, 3),  # 20 mm × 12 mm slab, dt = 1000 h: D·dt/dx² ≈ 1600
]


def _run_mode(name, shape, dx, ij, dt, steps):
    """Start from 1 + φ (≥ 0, so clipping never acts) and return (t, background, mode amplitude, values)."""
    ny, nx = shape
    phi = cosine_mode(ny, nx, dx, *ij)
    solver = one_field(name, shape, dx, dt)
    solver.set_values((1.0 + phi)[None])
    for _ in range(steps):
        values = solver.step(np.zeros((1, ny, nx)))[0]
        assert np.isfinite(values).all()
    amp = float((values * phi).sum() / (phi * phi).sum())  # projection on φ (φ ⟂ constants)
    return steps * dt, float(values.mean()), amp, values, phi


@pytest.mark.parametrize("name,shape,dx,ij,dt,steps", MODE_CASES)
def test_cosine_mode_decays_exactly(name, shape, dx, ij, dt, steps):
    ny, nx = shape
    t, a0, amp, values, phi = _run_mode(name, shape, dx, ij, dt, steps)
    k_h = kappa(ny, nx, dx, *ij)
    exact = np.exp(-(D(name) * k_h + LAM(name)) * t)
    exact0 = np.exp(-LAM(name) * t)
    # Exact in time: only round-off remains. The DCT and projection err by ~1e-16 of the constant
    # background, i.e. ~1e-16·(exact0/exact) ≤ 1e-13 relative to the mode (exact0/exact ≤ e^7.5);
    # repeated multiplication by e^{−rate·dt} adds ~steps·1e-16. 1e-12 leaves a 10× margin.
    assert amp == pytest.approx(exact, rel=1e-12)
    assert a0 == pytest.approx(exact0, rel=1e-12)
    np.testing.assert_allclose(values, exact0 + exact * phi, rtol=0, atol=1e-12 * exact0)


@pytest.mark.parametrize("name,shape,dx,ij,dt,steps", MODE_CASES)
def test_cosine_mode_agrees_with_continuous_solution_within_discretisation_error(name, shape, dx, ij, dt, steps):
    ny, nx = shape
    i, j = ij
    t, _, amp, _, _ = _run_mode(name, shape, dx, ij, dt, steps)
    kx, ky = np.pi * i / (nx * dx), np.pi * j / (ny * dx)
    continuous = np.exp(-(D(name) * (kx**2 + ky**2) + LAM(name)) * t)
    # 4 sin²(θ/2) = 2(1 − cos θ) ∈ [θ² − θ⁴/12, θ²] with θ = k·dx, so the grid eigenvalue obeys
    # 0 ≤ k² − κ ≤ δ := (kx⁴ + ky⁴)·dx²/12 = O((k·dx)²)·k². Hence the grid mode decays slightly
    # slower, and amp − continuous = amp·(1 − e^{−D t (k² − κ)}) ∈ [0, amp·(1 − e^{−D t δ})].
    delta = (kx**4 + ky**4) * dx**2 / 12
    bound = amp * -np.expm1(-D(name) * t * delta)
    err = amp - continuous
    assert -1e-12 * amp <= err <= bound + 1e-12 * amp
    # The bound is the leading term (next term is +θ⁶/360), so the error is not smaller than 90 % of it:
    # this is a genuine O((k·dx)²) spatial error, not something hidden by a loose tolerance.
    assert err >= 0.9 * bound
    assert bound <= 0.05 * amp  # and it is small at these grid resolutions


def test_mode_error_converges_second_order_in_dx():
    """Fixed physical mode (1 mm patch, TNF, 1 h): halving dx cuts the error to the continuous solution by ≈ 4."""
    L, t = 1000.0, 1.0
    errs = []
    for n in (20, 40, 80, 160):
        dx = L / n
        _, _, amp, _, _ = _run_mode("tnf", (n, n), dx, (2, 1), t, 1)
        k2 = (np.pi * 2 / L) ** 2 + (np.pi / L) ** 2
        errs.append(amp - np.exp(-(D("tnf") * k2 + LAM("tnf")) * t))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    # Ratio 4·(1 + O((k·dx)²)) (higher Taylor terms and the non-linearity of 1 − e^{−x}); at
    # k·dx ≤ 0.32 that correction is ≈ 2 %, and it shrinks by 4 per refinement.
    np.testing.assert_allclose(ratios, 4.0, rtol=0.03)
    assert abs(ratios[-1] - 4.0) < abs(ratios[0] - 4.0)


def test_huge_step_is_stable_and_exact_for_arbitrary_data():
    """dt = 1000 h is ~10⁶ explicit-stability limits; arbitrary data still follows the exact propagator."""
    rng = np.random.default_rng(11)
    ny, nx, dx = 6, 9, 20.0
    names = ("tnf", "ros", "glutamate", "gdnf", "damage")
    for dt in (0.01, 1.0, 1000.0):
        for name in names:
            solver = one_field(name, (ny, nx), dx, dt)
            ref = dense_propagator(ny, nx, dx, D(name), LAM(name))
            c = rng.exponential(1.0, (ny, nx)) * (rng.random((ny, nx)) < 0.5)
            s = rng.exponential(1.0, (ny, nx)) * (rng.random((ny, nx)) < 0.3)
            solver.set_values(c[None])
            expect = c.ravel()
            for _ in range(3):
                got = solver.step(s[None])[0].ravel()
                expect = ref(expect, s, dt)
                # dense eigh errs by ~1e-16·‖A‖ in each eigenvalue, i.e. ≤ 1e-16·‖A‖·dt ≤ 1e-10 relative
                # in e^{−μ dt} for the modes that survive a 1000 h step (μ ≈ λ); 1e-9 covers both.
                scale = max(np.abs(expect).max(), 1e-300)
                np.testing.assert_allclose(got, expect, rtol=0, atol=1e-9 * scale, err_msg=f"{name} dt={dt}")
                assert (got >= 0).all()


def test_steps_compose_exactly():
    """Exact in time: n steps of dt equal one step of n·dt (constant source), for every real field."""
    rng = np.random.default_rng(3)
    shape, dx = (20, 32), 25.0
    c0 = rng.exponential(1.0, (NF, *shape))
    src = rng.exponential(1.0, (NF, *shape))
    fine = FieldSolver(shape, dx, D_ALL, LAM_ALL, 0.125)
    coarse = FieldSolver(shape, dx, D_ALL, LAM_ALL, 1.0)
    fine.set_values(c0)
    coarse.set_values(c0)
    for _ in range(8):
        a = fine.step(src)
    b = coarse.step(src)
    for f in range(NF):  # relative to each field's own magnitude (they span 12 decades)
        np.testing.assert_allclose(a[f], b[f], rtol=0, atol=1e-12 * np.abs(b[f]).max(), err_msg=FIELD_NAMES[f])


# --------------------------------------------------------------------------- steady states
def test_uniform_source_relaxes_exactly_to_S_over_lambda():
    shape, dx, dt = (25, 40), 25.0, 1.0
    solver = FieldSolver(shape, dx, D_ALL, LAM_ALL, dt)
    S = np.array([0.5, 0.2, 1.0, 3.0, 0.01, 1e-4, 1e3, 5e4, 0.7])  # unit/h, per field
    src = np.broadcast_to(S[:, None, None], (NF, *shape)).copy()
    solver.set_values(np.zeros((NF, *shape)))
    for n in range(1, 25):
        v = solver.step(src)
        # a uniform field is the κ = 0 mode: c(t) = S/λ·(1 − e^{−λt}) exactly, spatially flat
        expect = S / LAM_ALL * -np.expm1(-LAM_ALL * n * dt)
        np.testing.assert_allclose(v, np.broadcast_to(expect[:, None, None], v.shape), rtol=1e-12)
    for _ in range(2000):  # slowest field (GDNF, λ = 0.029/h): e^{−λ·2024 h} ≈ 4e-26
        v = solver.step(src)
    np.testing.assert_allclose(v, np.broadcast_to((S / LAM_ALL)[:, None, None], v.shape), rtol=1e-12)


def test_ambient_glutamate_is_held_exactly():
    """The model's glutamate baseline: release ambient·λ against uptake λ keeps ambient exactly."""
    shape = (16, 24)
    k = FIELD_INDEX["glutamate"]
    solver = FieldSolver(shape, 20.0, D_ALL, LAM_ALL, 1.0)
    start = np.zeros((NF, *shape))
    start[k] = FC.glutamate_ambient_um
    solver.set_values(start)
    src = np.zeros((NF, *shape))
    src[k] = FC.glutamate_ambient_um * LAM_ALL[k]
    for _ in range(50):
        v = solver.step(src)
    np.testing.assert_allclose(v[k], FC.glutamate_ambient_um, rtol=1e-12)
    assert (np.delete(v, k, axis=0) == 0).all()


POINT_CASES = [
    ("tnf", (50, 50), 20.0, 1.0, 40),       # λ = 2.1/h: e^{−84} after 40 h
    ("il10", (30, 50), 20.0, 1.0, 300),     # λ = 0.23/h: e^{−69}
    ("ros", (24, 36), 20.0, 1e-2, 10),      # λ = 1136/h: e^{−114}; decay length √(D/λ) ≈ 89 µm
    ("glutamate", (20, 30), 20.0, 1.0, 3),  # λ = 2.5e5/h: at steady state after one step
    ("damage", (40, 80), 25.0, 24.0, 30),   # λ = 0.116/h: e^{−83}
    ("gdnf", (30, 45), 20.0, 1000.0, 3),    # λ = 0.029/h: e^{−87}, in three 1000 h steps
]


@pytest.mark.parametrize("name,shape,dx,dt,steps", POINT_CASES)
def test_point_sources_reach_the_direct_steady_state(name, shape, dx, dt, steps):
    ny, nx = shape
    spec = FIELD_SPECS[FIELD_INDEX[name]]
    voxel_l = dx**2 * DOM.slab_thickness_um * DOM.ecs_fraction * 1e-15  # litres of ECS per voxel, as in the model
    per_molecule = molecules_per_s_to_rate(spec, voxel_l)
    src = np.zeros(shape)
    src[0, 0] = 1.0 * per_molecule         # corner: one cell releasing 1 molecule/s
    src[ny // 2, nx // 3] = 7.0 * per_molecule  # interior
    src[ny - 1, nx // 2] = 0.3 * per_molecule   # wall
    solver = one_field(name, shape, dx, dt)
    for _ in range(steps):
        v = solver.step(src[None])[0]
    A = (D(name) * neumann_laplacian(ny, nx, dx) + LAM(name) * sp.identity(ny * nx)).tocsc()
    direct = spla.spsolve(A, src.ravel()).reshape(shape)
    # cond(A) ≤ (8D/dx² + λ)/λ ≤ 2e4 here, so the direct solve is good to ~1e-12; the solver's
    # remaining transient is ≤ e^{−69}. Compared in the max norm relative to the peak.
    np.testing.assert_allclose(v, direct, rtol=0, atol=1e-10 * direct.max())
    # zero-flux walls and decay: total loss λ·Σc balances total release ΣS
    assert LAM(name) * v.sum() == pytest.approx(src.sum(), rel=1e-10)


# --------------------------------------------------------------------------- conservation
@pytest.mark.parametrize("name,shape,dx,dt", [("tnf", (50, 50), 20.0, 1.0), ("ros", (17, 31), 20.0, 1e-3),
                                              ("bdnf", (30, 45), 25.0, 1000.0), ("damage", (2, 3), 30.0, 0.5)])
def test_mass_is_conserved_without_decay(name, shape, dx, dt):
    rng = np.random.default_rng(5)
    solver = one_field(name, shape, dx, dt, decay=0.0)
    c0 = rng.exponential(2.0, shape) * (rng.random(shape) < 0.2)
    c0[0, 0] = 5.0
    solver.set_values(c0[None])
    m0 = c0.sum() * dx**2
    zero = np.zeros((1, *shape))
    for _ in range(200):
        v = solver.step(zero)[0]
        # zero-flux walls, λ = 0: Σc·dx² is the κ = 0 coefficient, multiplied by exactly 1 each step;
        # only ~1e-16 per-step round-off of the DCT pair accumulates (200 steps → ~1e-14).
        assert v.sum() * dx**2 == pytest.approx(m0, rel=1e-12)
    assert v.min() >= 0
    # and the mass spreads out: the field relaxes to its mean with a huge step as well
    if dt >= 1.0:
        np.testing.assert_allclose(v, c0.mean(), rtol=1e-9)


@pytest.mark.parametrize("name,dt", [("tnf", 1.0), ("glutamate", 0.05), ("gdnf", 1000.0)])
def test_mass_grows_by_exactly_the_released_amount(name, dt):
    rng = np.random.default_rng(8)
    shape, dx = (30, 44), 20.0
    solver = one_field(name, shape, dx, dt, decay=0.0)
    src = np.zeros(shape)
    src.flat[rng.choice(src.size, 12, replace=False)] = rng.exponential(3.0, 12)  # point sources, unit/h
    solver.set_values(np.zeros((1, *shape)))
    mass = 0.0
    for _ in range(50):
        v = solver.step(src[None])[0]
        new = v.sum() * dx**2
        # with λ = 0 the κ = 0 mode gets G = dt exactly: Δmass = ΣS·dx²·dt per step, up to
        # round-off of the running total (1e-12 of the current mass, i.e. of up to 50 increments)
        assert new - mass == pytest.approx(src.sum() * dx**2 * dt, rel=1e-12, abs=1e-12 * new)
        mass = new
    assert mass == pytest.approx(50 * src.sum() * dx**2 * dt, rel=1e-12)


# --------------------------------------------------------------------------- positivity
@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (17, 31), (40, 25), (64, 64)])
@pytest.mark.parametrize("dt", [1e-3, 1.0, 1000.0])
def test_nonnegative_for_point_sources_and_spiky_data(shape, dt):
    rng = np.random.default_rng([*shape, round(dt * 1000)])
    dx = 20.0
    solver = FieldSolver(shape, dx, D_ALL, LAM_ALL, dt)
    # single-voxel spikes are the worst case for ringing of a spectral propagator
    c0 = rng.exponential(1.0, (NF, *shape)) * (rng.random((NF, *shape)) < 0.05)
    solver.set_values(c0)
    for n in range(30):
        src = rng.exponential(1.0, (NF, *shape)) * (rng.random((NF, *shape)) < 0.02)
        v = solver.step(src)
        assert (v >= 0).all()
        # Before clipping: exp(−t·(D·L_h + λ)) is entrywise ≥ 0 (−L_h is Metzler), so only
        # round-off (~1e-16 of the field's largest value) may be negative; 1e-12 of it is a tight ceiling.
        raw = fft.idctn(solver._spectrum, type=2, axes=(1, 2), norm="ortho")
        peak = np.abs(raw).reshape(NF, -1).max(axis=1)
        assert (raw.reshape(NF, -1).min(axis=1) >= -1e-12 * np.maximum(peak, 1e-300)).all(), n


def test_positivity_check_would_catch_a_ringing_propagator():
    """Sanity check of the test data: the continuous-wavenumber propagator e^{−Dk²t} (same DCT modes)
    goes clearly negative around a point source, so the check above is not vacuous."""
    ny, nx, dx, dt = 40, 25, 20.0, 1e-3
    name = "tnf"
    c0 = np.zeros((ny, nx))
    c0[ny // 2, nx // 2] = 1.0
    k2 = (np.pi * np.arange(ny) / (ny * dx))[:, None] ** 2 + (np.pi * np.arange(nx) / (nx * dx))[None, :] ** 2
    ringing = fft.idctn(np.exp(-(D(name) * k2 + LAM(name)) * dt) * fft.dctn(c0, type=2, norm="ortho"), type=2, norm="ortho")
    assert ringing.min() < -1e-4 * ringing.max()
    solver = one_field(name, (ny, nx), dx, dt)
    solver.set_values(c0[None])
    solver.step(np.zeros((1, ny, nx)))
    raw = fft.idctn(solver._spectrum[0], type=2, norm="ortho")
    assert raw.min() >= -1e-15 * raw.max()


# --------------------------------------------------------------------------- decay changes, uptake
def test_set_decay_recomputes_only_changed_fields():
    shape, dx, dt = (12, 18), 20.0, 1.0
    solver = FieldSolver(shape, dx, D_ALL, LAM_ALL, dt)
    sentinel = -123.0
    solver._E[:] = sentinel  # mark every cached factor
    solver._G[:] = sentinel
    new = LAM_ALL.copy()
    g, r = FIELD_INDEX["glutamate"], FIELD_INDEX["ros"]
    new[g] *= 0.4  # what the model does with EAAT2 loss and vesicles
    new[r] *= 1.7
    solver.set_decay(new)
    fresh = FieldSolver(shape, dx, D_ALL, new, dt)
    for f in range(NF):
        if f in (g, r):
            np.testing.assert_array_equal(solver._E[f], fresh._E[f])
            np.testing.assert_array_equal(solver._G[f], fresh._G[f])
        else:
            assert (solver._E[f] == sentinel).all() and (solver._G[f] == sentinel).all(), FIELD_NAMES[f]
    solver.set_decay(new.copy())  # same rates again: nothing is recomputed
    assert (solver._E[0] == sentinel).all()


def test_changed_decay_matches_a_freshly_built_solver():
    rng = np.random.default_rng(21)
    shape, dx, dt = (20, 30), 20.0, 1.0
    c0 = rng.exponential(1.0, (NF, *shape))
    src = rng.exponential(1.0, (NF, *shape)) * (rng.random((NF, *shape)) < 0.1)
    a = FieldSolver(shape, dx, D_ALL, LAM_ALL, dt)
    a.set_values(c0)
    for _ in range(3):
        a.step(src)
    new = LAM_ALL.copy()
    new[FIELD_INDEX["glutamate"]] *= 0.4
    new[FIELD_INDEX["ros"]] *= 2.0
    new[FIELD_INDEX["il10"]] = 0.0  # a rate may also drop to zero (G → dt branch)
    a.set_decay(new)
    b = FieldSolver(shape, dx, D_ALL, new, dt)
    b.set_values(a.values)
    for _ in range(5):
        va, vb = a.step(src), b.step(src)
        for f in range(NF):  # b restarts from a's values, so they differ only by one DCT round trip
            np.testing.assert_allclose(va[f], vb[f], rtol=0, atol=1e-12 * np.abs(vb[f]).max(), err_msg=FIELD_NAMES[f])
    # switching back restores the original factors bit for bit
    a.set_decay(LAM_ALL)
    ref = FieldSolver(shape, dx, D_ALL, LAM_ALL, dt)
    np.testing.assert_array_equal(a._E, ref._E)
    np.testing.assert_array_equal(a._G, ref._G)


def test_apply_uptake_multiplies_by_exp_minus_k_dt_per_voxel():
    rng = np.random.default_rng(4)
    shape, dx, dt = (14, 22), 20.0, 1.0
    solver = FieldSolver(shape, dx, D_ALL, LAM_ALL, dt)
    c0 = rng.exponential(1.0, (NF, *shape))
    solver.set_values(c0)
    idx = [FIELD_INDEX["bdnf"], FIELD_INDEX["gdnf"]]
    k = 0.5 * rng.integers(0, 3, shape)  # 0.5/h per motor neuron in the voxel, as in the model
    solver.apply_uptake(idx, k)
    expect = c0.copy()
    expect[idx] *= np.exp(-k * dt)
    np.testing.assert_allclose(solver.values, expect, rtol=1e-15, atol=0)
    others = [i for i in range(NF) if i not in idx]
    np.testing.assert_array_equal(solver.values[others], c0[others])  # other fields untouched, bit for bit
    # per-field rates (len(indices), ny, nx)
    k2 = rng.uniform(0, 3, (2, *shape))
    before = solver.values.copy()
    solver.apply_uptake(idx, k2)
    np.testing.assert_allclose(solver.values[idx], before[idx] * np.exp(-k2 * dt), rtol=1e-15, atol=0)
    # the next step starts from the depleted state
    ref = FieldSolver(shape, dx, D_ALL, LAM_ALL, dt)
    ref.set_values(solver.values)
    src = rng.exponential(1.0, (NF, *shape))
    va, vb = solver.step(src), ref.step(src)
    for f in range(NF):
        np.testing.assert_allclose(va[f], vb[f], rtol=0, atol=1e-13 * np.abs(vb[f]).max(), err_msg=FIELD_NAMES[f])


def test_planes_without_sources_or_content_skip_their_transforms_and_give_the_full_result():
    """A plane with no source only decays and an empty plane stays empty: the same values as transforming everything."""
    rng = np.random.default_rng(7)
    shape, dx, dt = (14, 11), 25.0, 1.0
    diffusion, decay = rng.uniform(10, 5e4, 9), rng.uniform(0.01, 2.0, 9)
    solver = FieldSolver(shape, dx, diffusion, decay, dt)
    start = rng.uniform(0, 5, (9, *shape))
    start[[2, 5]] = 0.0  # nothing there yet
    solver.set_values(start)
    spectrum = fft.dctn(start, type=2, axes=(-2, -1), norm="ortho")
    for step in range(4):
        sources = rng.uniform(0, 3, (9, *shape))
        sources[[2, 6]] = 0.0  # field 2: empty and silent (skips both transforms); field 6: silent, decays
        if step == 3:
            sources[5] = 0.0
        values = solver.step(sources)
        spectrum = spectrum * solver._E + fft.dctn(sources, type=2, axes=(-2, -1), norm="ortho") * solver._G
        full = np.maximum(fft.idctn(spectrum, type=2, axes=(-2, -1), norm="ortho"), 0.0)
        assert np.array_equal(values, full)  # signed zeros aside, bit for bit
        assert not values[2].any() and values[6].any()
