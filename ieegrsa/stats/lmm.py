"""A small profiled-(RE)ML linear mixed-model solver with lme4's parametrisation and lmerTest's
Satterthwaite degrees of freedom.

Why not statsmodels' MixedLM: it flags boundary variances by an absolute threshold, raises
``LinAlgError`` at singular fits, has no Satterthwaite df, and its likelihoods need not be at the
optimum (likelihood-ratio statistics came out negative). The model here is lme4's (Bates et al.
2015, J Stat Softw 67(1)), restricted to random effects nested in one grouping factor (the
patient), which makes ``Z'Z`` block-diagonal by patient so that every evaluation is a batch of
small dense Cholesky factorisations (vectorised over patients and over the points of the
numerical-derivative stencils):

``y = X β + Z b + ε``, ``b = Λ(θ) u``, ``u ~ N(0, σ² I)``, ``ε ~ N(0, σ² I)``.

For a patient the random effects are a ``k``-vector (intercept and slopes; ``Λ`` block = the
lower-triangular ``k × k`` factor, ``θ`` its elements column by column, as lme4) followed by one
scalar intercept per level of each nested factor (contact, network instance; ``Λ`` = ``θ_t I``).

Profiled deviance (lme4's eqs. 34 and 41): with ``A = Λ'Z'ZΛ + I`` and the Schur complement
``S = [X y]'[X y] - [X y]'ZΛ A⁻¹ Λ'Z'[X y]`` (whose Cholesky factor holds ``R_X`` and the
penalised residual sum of squares ``r²``),

- ML: ``d(θ) = log|A| + n (1 + log(2π r² / n))``
- REML: ``d(θ) = log|A| + log|R_X|² + (n - p)(1 + log(2π r² / (n - p)))``.

``θ`` is optimised with L-BFGS-B (analytic gradient) under lme4's bounds (diagonal elements
≥ 0) from lme4's start (diagonal 1, off-diagonal 0), then by Powell's method where the gradient
is not yet small, with probes away from zero ``θ`` (see :func:`_leave_boundary`), keeping the
lowest criterion. The fit is ``singular`` as ``lme4::isSingular`` (a bounded ``θ`` below 1e-4;
``θ`` is relative to σ, so the flag is scale-free) and ``converged`` when the projected
gradient of ``d`` is below 2e-3 (lme4's gradient tolerance).

Satterthwaite df (lmerTest, Kuznetsova et al. 2017, J Stat Softw 82(13)): with ``φ = (θ, σ)``,
``Cov(φ̂) = 2 H⁺`` (``H`` the Hessian of lmerTest's deviance in ``φ``, pseudo-inverted over
eigenvalues above 1e-8), ``g_k = ∂(l' Cov(β̂) l)/∂φ_k`` and
``df = 2 (l' Cov(β̂) l)² / (g' Cov(φ̂) g)``. Derivatives are central differences with Richardson
extrapolation using numDeriv's steps (``0.1 |x|``, or 1e-4 at zero, four halvings), the numbers
lmerTest computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

__all__ = ["RandomEffects", "LMMFit", "fit_lmm"]

SINGULAR_TOL = 1e-4  # lme4::isSingular
_GRADIENT_TOL = 2e-3  # lme4's check.conv.grad
_EIGEN_TOL = 1e-8  # lmerTest's tolerance for the Hessian's eigenvalues


@dataclass
class RandomEffects:
    """Random-effect design of one fit, all nested in the grouping factor.

    Attributes
    ----------
    group : numpy.ndarray of int, shape (n,)
        Patient index (0 … n_groups - 1) of each row.
    slopes : numpy.ndarray, shape (n, k)
        Columns of the patient-level term (first the intercept, then the slopes' contrasts).
    slope_names : list of str
        Names of those columns.
    nested : dict
        ``{name: codes}``: per nested factor (``contact``, ``instance``), the level of each row
        within its patient (0 … levels - 1; levels of different patients are different).
    group_name : str
        Name of the grouping factor (``subject``).
    """

    group: np.ndarray
    slopes: np.ndarray
    slope_names: list
    nested: dict = field(default_factory=dict)
    group_name: str = "subject"

    @property
    def theta_names(self) -> list:
        """``θ`` names: the patient block's factor, then one per nested factor (lme4's order
        within a block: column-major lower triangle)."""
        k = len(self.slope_names)
        names = [f"{self.group_name}:{self.slope_names[i]}" if i == j else
                 f"{self.group_name}:{self.slope_names[i]}|{self.slope_names[j]}"
                 for j in range(k) for i in range(j, k)]
        return names + [f"{self.group_name}:{name}" for name in self.nested]

    @property
    def lower(self) -> np.ndarray:
        """lme4's lower bounds of ``θ``: 0 on diagonal elements, -inf elsewhere."""
        k = len(self.slope_names)
        block = [0.0 if i == j else -np.inf for j in range(k) for i in range(j, k)]
        return np.array(block + [0.0] * len(self.nested))

    @property
    def start(self) -> np.ndarray:
        """lme4's start: 1 on diagonal elements, 0 elsewhere."""
        return np.where(np.isfinite(self.lower), 1.0, 0.0)


@dataclass
class LMMFit:
    """One fitted model (see the module docstring for the definitions).

    Attributes
    ----------
    beta, se : numpy.ndarray, shape (p,)
        Fixed effects and their standard errors.
    cov_beta : numpy.ndarray, shape (p, p)
    df : numpy.ndarray, shape (p,)
        Satterthwaite degrees of freedom of each coefficient (NaN where not computable).
    theta : numpy.ndarray
        Relative Cholesky factor elements (lme4's ``getME(fit, "theta")`` up to order).
    theta_names : list of str
    sigma : float
        Residual standard deviation.
    deviance : float
        The optimised criterion: REML criterion or ML deviance (``-2 log L``).
    llf : float
        Log-likelihood (REML or ML), ``-deviance / 2``.
    reml : bool
    singular, converged : bool
    patient_singular : bool
        Whether the patient-level block (intercept and slopes) is at the boundary: a variance
        of 0 or a correlation of ±1, so that the slope's between-patient variability is not
        (fully) estimated.
    gradient_norm : float
        Largest absolute projected gradient of the criterion at the optimum.
    n_obs, n_groups, n_params : int
        Rows, patients, estimated parameters (fixed effects, ``θ`` and σ).
    random_sd : dict
        Standard deviation of each random effect (``name -> SD``, in the unit of ``y``) and
        correlations of the patient block (``a|b -> r``).
    """

    beta: np.ndarray
    se: np.ndarray
    cov_beta: np.ndarray
    df: np.ndarray
    theta: np.ndarray
    theta_names: list
    sigma: float
    deviance: float
    llf: float
    reml: bool
    singular: bool
    patient_singular: bool
    converged: bool
    gradient_norm: float
    n_obs: int
    n_groups: int
    n_params: int
    random_sd: dict


class _Problem:
    """Cross-products of one fit, padded per patient, and the batched criterion."""

    def __init__(self, X, y, random: RandomEffects, reml):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        n, p = X.shape
        group = np.asarray(random.group)
        n_groups = int(group.max()) + 1
        k = random.slopes.shape[1]
        widths = [int(codes.max()) + 1 if len(codes) else 0 for codes in
                  (np.asarray(c) for c in random.nested.values())]
        # per patient, the number of levels of each nested factor actually present
        q = k + sum(widths)
        Z = np.zeros((n, q))
        Z[:, :k] = random.slopes
        offset = k
        for codes, width in zip(random.nested.values(), widths):
            Z[np.arange(n), offset + np.asarray(codes)] = 1.0
            offset += width
        Xy = np.column_stack([X, y])
        self.ZtZ = np.zeros((n_groups, q, q))
        self.ZtXy = np.zeros((n_groups, q, p + 1))
        for g in range(n_groups):
            rows = group == g
            self.ZtZ[g] = Z[rows].T @ Z[rows]
            self.ZtXy[g] = Z[rows].T @ Xy[rows]
        self.XytXy = Xy.T @ Xy
        # Λ(θ) = Σ_j θ_j E_j, the same template for every patient (absent levels have zero
        # columns in Z, so their Λ entries do not matter)
        n_theta = k * (k + 1) // 2 + len(widths)
        E = np.zeros((n_theta, q, q))
        j = 0
        for col in range(k):
            for row in range(col, k):
                E[j, row, col] = 1.0
                j += 1
        offset = k
        for width in widths:
            E[j, offset + np.arange(width), offset + np.arange(width)] = 1.0
            offset, j = offset + width, j + 1
        self.E = E
        self.n, self.p, self.q, self.reml = n, p, q, reml
        self.n_groups = n_groups

    def terms(self, thetas):
        """``log|A|``, ``log|R_X|²``, ``r²``, ``(R_X'R_X)⁻¹`` and the Schur complement ``S``
        for a batch of ``θ`` (m, j)."""
        thetas = np.atleast_2d(thetas)
        lam = np.einsum("mj,jab->mab", thetas, self.E)[:, None]  # (m, 1, q, q)
        lam_t = np.swapaxes(lam, -1, -2)
        A = lam_t @ self.ZtZ[None] @ lam + np.eye(self.q)
        B = lam_t @ self.ZtXy[None]  # (m, g, q, p+1)
        chol_a = np.linalg.cholesky(A)
        logdet_a = 2 * np.log(np.diagonal(chol_a, axis1=-2, axis2=-1)).sum(axis=(-1, -2))
        S = self.XytXy - np.einsum("mgqa,mgqb->mab", B, np.linalg.solve(A, B))
        chol_s = np.linalg.cholesky(S)
        diag = np.diagonal(chol_s, axis1=-2, axis2=-1)
        p = self.p
        logdet_x = 2 * np.log(diag[:, :p]).sum(axis=-1)
        r2 = diag[:, p] ** 2
        rx_inv = np.linalg.inv(chol_s[:, :p, :p])
        return logdet_a, logdet_x, r2, np.swapaxes(rx_inv, -1, -2) @ rx_inv, S

    def criterion(self, thetas, reml=None):
        reml = self.reml if reml is None else reml
        logdet_a, logdet_x, r2, _, _ = self.terms(thetas)
        n = self.n - self.p if reml else self.n
        # r² ≤ 0 is rounding where a huge θ lets the random effects fit the data: no optimum
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(r2 > 0, logdet_a + n * (1 + np.log(2 * np.pi * r2 / n)), np.inf)
        return out + logdet_x if reml else out

    def criterion_and_gradient(self, theta):
        """The criterion at one ``θ`` and its analytic gradient.

        With ``W = A⁻¹ Λ'Z'[X y]`` and ``E_j = ∂Λ/∂θ_j`` (per patient, summed):
        ``∂ log|A| = 2 tr(A⁻¹ Λ'Z'Z E_j)``,
        ``∂S = -(E_j'Z'[X y])'W - W'(E_j'Z'[X y]) + (E_j W)'(Z'ZΛW) + (Z'ZΛW)'(E_j W)``,
        ``∂r² = v'∂S v`` with ``v = (-β̂, 1)``, ``∂ log|R_X|² = tr(S_XX⁻¹ ∂S_XX)``.
        """
        lam = np.einsum("j,jab->ab", theta, self.E)
        C_lam = self.ZtZ @ lam  # (g, q, q)
        A = lam.T @ C_lam + np.eye(self.q)
        B = lam.T @ self.ZtXy
        A_inv = np.linalg.inv(A)
        W = A_inv @ B  # (g, q, p+1)
        sign, logdet = np.linalg.slogdet(A)
        S = self.XytXy - np.einsum("gqa,gqb->ab", B, W)
        p = self.p
        S_xx_inv = np.linalg.inv(S[:p, :p])
        beta = S_xx_inv @ S[:p, p]
        r2 = S[p, p] - S[:p, p] @ beta
        if not r2 > 0:  # rounding at a huge θ (see criterion): a point the optimizer avoids
            return np.inf, np.zeros_like(theta)
        # gradient pieces, every j at once
        EtD = np.einsum("jba,gbc->jgac", self.E, self.ZtXy)  # E_j' Z'[X y]
        EW = np.einsum("jab,gbc->jgac", self.E, W)  # E_j W
        CLW = C_lam @ W  # Z'Z Λ W, (g, q, p+1)
        half = np.einsum("jgqa,gqb->jab", EW, CLW) - np.einsum("jgqa,gqb->jab", EtD, W)
        dS = half + np.swapaxes(half, -1, -2)
        dlogdet_a = 2 * np.einsum("gab,gbc,jca->j", A_inv, lam.T @ self.ZtZ, self.E)
        v = np.append(-beta, 1.0)
        dr2 = np.einsum("a,jab,b->j", v, dS, v)
        if self.reml:
            n = self.n - p
            value = logdet.sum() + np.linalg.slogdet(S[:p, :p])[1] + n * (
                1 + np.log(2 * np.pi * r2 / n))
            grad = dlogdet_a + np.einsum("ab,jba->j", S_xx_inv, dS[:, :p, :p]) + n * dr2 / r2
        else:
            n = self.n
            value = logdet.sum() + n * (1 + np.log(2 * np.pi * r2 / n))
            grad = dlogdet_a + n * dr2 / r2
        return float(value), grad

    def criterion_vp(self, varpars):
        """lmerTest's deviance as a function of ``(θ, σ)`` (``devfun_vp``)."""
        varpars = np.atleast_2d(varpars)
        sigma2 = varpars[:, -1] ** 2
        logdet_a, logdet_x, r2, cov, _ = self.terms(varpars[:, :-1])
        out = logdet_a + r2 / sigma2 + self.n * np.log(2 * np.pi * sigma2)
        if self.reml:
            out = out + logdet_x - self.p * np.log(2 * np.pi * sigma2)
        return out, sigma2[:, None, None] * cov


def fit_lmm(X, y, random: RandomEffects, *, reml=True, start=None, satterthwaite=True) -> LMMFit:
    """Fit one linear mixed model by profiled REML or ML.

    Parameters
    ----------
    X : array, shape (n, p)
        Fixed-effect design (full column rank).
    y : array, shape (n,)
        Response.
    random : RandomEffects
        The random-effect design (nested in one grouping factor).
    reml : bool
        REML (True, lme4's default) or ML.
    start : array | sequence of arrays | None
        Starting ``θ`` (several: each is tried, the lowest criterion kept); None = lme4's start.
        The criterion at each start is a candidate too, so that a nested model's refit from the
        reduced model's optimum cannot end above it.
    satterthwaite : bool
        Compute the Satterthwaite df (the numerical Hessian costs a few hundred evaluations).

    Returns
    -------
    LMMFit
    """
    problem = _Problem(X, y, random, reml)
    lower = random.lower
    starts = [random.start] if start is None else [np.asarray(s, float) for s in
                                                   (start if np.ndim(start[0]) else [start])]
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    best = None
    for s in starts:
        s = np.maximum(s, np.where(np.isfinite(lower), lower, -np.inf))
        candidates = [(float(problem.criterion(s)[0]), s)]
        candidates.append(_descend(problem, s, lower, bounds))
        for value, theta in candidates:
            if best is None or value < best[0]:
                best = (value, theta)
    deviance, theta = _leave_boundary(problem, *best, lower, bounds, _column_below(random))
    # land exactly on a bound where the optimum is there (L-BFGS-B stops ~1e-6 short); lme4's
    # bobyqa does, and isSingular / the df at the boundary depend on it
    for j in np.flatnonzero(np.isfinite(lower) & (theta - lower < 1e-3)):
        snapped = theta.copy()
        snapped[j] = lower[j]
        value = float(problem.criterion(snapped)[0])
        if value <= deviance + 1e-10:
            deviance, theta = min(value, deviance), snapped
    grad = problem.criterion_and_gradient(theta)[1]
    at_bound = np.isfinite(lower) & (theta <= lower) & (grad > 0)
    gradient_norm = float(np.max(np.abs(np.where(at_bound, 0.0, grad)), initial=0.0))
    _, _, r2, rx_inv, S = problem.terms(theta)
    n_resid = problem.n - problem.p if reml else problem.n
    sigma = float(np.sqrt(r2[0] / n_resid))
    cov_beta = sigma**2 * rx_inv[0]
    beta = rx_inv[0] @ S[0, :problem.p, problem.p]  # (R_X'R_X)⁻¹ S_Xy
    se = np.sqrt(np.diag(cov_beta))
    df = (_satterthwaite(problem, theta, sigma, cov_beta) if satterthwaite
          else np.full(problem.p, np.nan))
    singular = bool(np.any(theta[np.isfinite(lower)] < SINGULAR_TOL))
    k = len(random.slope_names)
    block = np.isfinite(lower) & (np.arange(theta.size) < k * (k + 1) // 2)
    patient_singular = bool(np.any(theta[block] < SINGULAR_TOL))
    return LMMFit(beta=beta, se=se, cov_beta=cov_beta, df=df, theta=theta,
                  theta_names=random.theta_names, sigma=sigma, deviance=float(deviance),
                  llf=-float(deviance) / 2, reml=reml, singular=singular,
                  patient_singular=patient_singular,
                  converged=gradient_norm < _GRADIENT_TOL, gradient_norm=gradient_norm,
                  n_obs=problem.n, n_groups=problem.n_groups,
                  n_params=problem.p + theta.size + 1,
                  random_sd=_random_sd(random, theta, sigma))


def _descend(problem, start, lower, bounds):
    """L-BFGS-B with the analytic gradient; Powell's method after it where the gradient is not
    yet small. Returns ``(criterion, θ)``, the best of the two."""
    res = optimize.minimize(problem.criterion_and_gradient, start, jac=True, method="L-BFGS-B",
                            bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000})
    best = (float(res.fun), res.x)
    grad = problem.criterion_and_gradient(res.x)[1]
    free = ~(np.isfinite(lower) & (res.x <= lower) & (grad > 0))
    if np.max(np.abs(grad[free]), initial=0.0) >= _GRADIENT_TOL:
        res = optimize.minimize(lambda t: problem.criterion(t)[0], res.x, method="Powell",
                                bounds=bounds, options={"xtol": 1e-10, "ftol": 1e-14})
        best = min(best, (float(res.fun), res.x), key=lambda c: c[0])
    return best


def _column_below(random):
    """Per ``θ`` index of a block's diagonal element: the indices of the elements below it in
    its column (lme4's column-major order)."""
    k = len(random.slope_names)
    index, out = 0, {}
    for col in range(k):
        out[index] = list(range(index + 1, index + k - col))
        index += k - col
    return out


def _leave_boundary(problem, value, theta, lower, bounds, below, rounds=5):
    """Probe away from bounded ``θ`` at zero and descend again where the criterion drops.

    Two traps of a gradient method at the boundary, which lme4's derivative-free bobyqa does
    not fall into: the criterion is even in a scalar term's ``θ``, so its gradient vanishes at
    0 whether or not 0 is a minimum (found on a participant-level table: a contact variance
    stuck at 0, criterion 0.006 above lme4's); and where a block's diagonal element is 0 the
    sign of the elements below it is arbitrary, while the gradient of the diagonal element
    depends on it (found: 0.027 above lme4's). Probes: each such ``θ`` set to 0.01, 0.1 and
    0.5, with the column below it as it is and with its sign flipped."""
    for _ in range(rounds):
        at_zero = np.flatnonzero(np.isfinite(lower) & (theta - lower < 1e-6))
        probes = []
        for j in at_zero:
            for step in (1e-2, 1e-1, 0.5):
                for flip in ((False, True) if below.get(j) else (False,)):
                    probe = theta.copy()
                    probe[j] = lower[j] + step
                    if flip:
                        probe[below[j]] *= -1
                    probes.append(probe)
        if not probes:
            break
        values = problem.criterion(np.array(probes))
        k = int(np.argmin(values))
        if not values[k] < value - 1e-10:
            break
        value, theta = min((value, theta), _descend(problem, probes[k], lower, bounds),
                           key=lambda c: c[0])
    return value, theta


def _random_sd(random, theta, sigma):
    k = len(random.slope_names)
    T = np.zeros((k, k))
    j = 0
    for col in range(k):
        for row in range(col, k):
            T[row, col] = theta[j]
            j += 1
    cov = sigma**2 * T @ T.T
    sd = np.sqrt(np.diag(cov))
    out = {f"{random.group_name}:{name}": float(s) for name, s in zip(random.slope_names, sd)}
    for a in range(k):
        for b in range(a + 1, k):
            r = cov[a, b] / (sd[a] * sd[b]) if sd[a] > 0 and sd[b] > 0 else np.nan
            out[f"{random.group_name}:{random.slope_names[a]}|{random.slope_names[b]}"] = \
                float(r)
    for name, t in zip(random.nested, theta[j:]):
        out[f"{random.group_name}:{name}"] = float(abs(t) * sigma)
    out["residual"] = sigma
    return out


def _steps(x, d):
    # numDeriv's step rule: d·|x|, or 1e-4 where |x| is below zero.tol
    zero_tol = np.sqrt(np.finfo(float).eps / 7e-7)
    return d * np.abs(x) + 1e-4 * (np.abs(x) < zero_tol)


def _richardson(estimates):
    """Richardson extrapolation over halving steps of an O(h²) series (first axis = level)."""
    est = list(estimates)
    for m in range(1, len(est)):
        factor = 4.0**m
        est = [(factor * est[i + 1] - est[i]) / (factor - 1) for i in range(len(est) - 1)]
    return est[0]


def _satterthwaite(problem, theta, sigma, cov_beta, levels=4):
    x = np.append(theta, sigma)
    m = x.size
    # Hessian of devfun_vp (numDeriv::hessian steps, d = 0.1) and Jacobian of Cov(β̂)
    # (numDeriv::jacobian steps, d = 1e-4), every stencil point in one batched evaluation
    h_hess = _steps(x, 0.1)
    h_jac = _steps(x, 1e-4)
    points, index = [x], {}
    for level in range(levels):
        for i in range(m):
            for sign in (1, -1):
                e = np.zeros(m)
                e[i] = sign * h_hess[i] / 2**level
                index["h", level, i, sign] = len(points)
                points.append(x + e)
                e = np.zeros(m)
                e[i] = sign * h_jac[i] / 2**level
                index["j", level, i, sign] = len(points)
                points.append(x + e)
            for j in range(i):
                for si in (1, -1):
                    for sj in (1, -1):
                        e = np.zeros(m)
                        e[i], e[j] = si * h_hess[i] / 2**level, sj * h_hess[j] / 2**level
                        index["o", level, i, j, si, sj] = len(points)
                        points.append(x + e)
    f, cov = problem.criterion_vp(np.array(points))
    hess_levels, jac_levels = [], []
    for level in range(levels):
        H = np.zeros((m, m))
        J = np.zeros((m, *cov_beta.shape))
        for i in range(m):
            hi = h_hess[i] / 2**level
            H[i, i] = (f[index["h", level, i, 1]] - 2 * f[0] + f[index["h", level, i, -1]]) / hi**2
            hj = h_jac[i] / 2**level
            J[i] = (cov[index["j", level, i, 1]] - cov[index["j", level, i, -1]]) / (2 * hj)
            for j in range(i):
                hj2 = h_hess[j] / 2**level
                H[i, j] = H[j, i] = (f[index["o", level, i, j, 1, 1]]
                                     - f[index["o", level, i, j, 1, -1]]
                                     - f[index["o", level, i, j, -1, 1]]
                                     + f[index["o", level, i, j, -1, -1]]) / (4 * hi * hj2)
        hess_levels.append(H)
        jac_levels.append(J)
    H = _richardson(hess_levels)
    J = _richardson(jac_levels)
    values, vectors = np.linalg.eigh((H + H.T) / 2)
    keep = values > _EIGEN_TOL
    cov_varpar = 2 * (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    var = np.diag(cov_beta)
    grad = np.einsum("kii->ki", J)  # ∂ Var(β̂_i) / ∂ φ_k, shape (m, p)
    denom = np.einsum("ki,kl,li->i", grad, cov_varpar, grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2 * var**2 / denom, np.nan)
