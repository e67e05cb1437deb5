"""Reference linear mixed-model fits from R's lme4/lmerTest, for the tests.

The R side is ``tests/r/lmer_reference.R``; this module writes a table and a
model specification to a temporary directory, runs that script once for all
fits and returns its JSON output.  Tests that need it should skip when R is
not available::

    import pytest
    from _lme4 import SKIP_REASON, have_lme4, lme4_fits

    pytestmark = pytest.mark.skipif(not have_lme4(), reason=SKIP_REASON)
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

__all__ = ["SKIP_REASON", "R_SCRIPT", "have_lme4", "lme4_fits"]

SKIP_REASON = (
    "R with lme4/lmerTest/jsonlite is not installed: "
    "apt-get install r-cran-lme4 r-cran-lmertest r-cran-jsonlite"
)

#: The R script that fits the models.
R_SCRIPT = Path(__file__).resolve().parent / "r" / "lmer_reference.R"

_TIMEOUT_S = 600


@functools.lru_cache(maxsize=1)
def have_lme4() -> bool:
    """Whether ``Rscript`` is on PATH and lme4, lmerTest and jsonlite load.

    The answer is cached for the session.

    Returns
    -------
    bool
        True when the R reference fits can be run.
    """
    rscript = shutil.which("Rscript")
    if rscript is None or not R_SCRIPT.is_file():
        return False
    code = (
        "suppressPackageStartupMessages({"
        "library(lme4); library(lmerTest); library(jsonlite)}); cat('ok')"
    )
    try:
        proc = subprocess.run(
            [rscript, "--vanilla", "-e", code],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and proc.stdout.strip().endswith("ok")


def lme4_fits(
    table: pd.DataFrame,
    formula: str,
    *,
    fit_column: str = "fit",
    reml: bool = True,
    reduced: str | None = None,
    factors: Iterable[str] = ("objective", "subject", "contact"),
) -> dict[str, dict]:
    """Fit one lme4/lmerTest model per fit id and return R's results.

    Each group of rows sharing a value of ``fit_column`` is fitted with
    ``lmerTest::lmer(formula, REML=reml)`` using the bobyqa optimizer with
    ``rhoend=1e-12, maxfun=1e6``, ``calc.derivs=TRUE`` and the singular-fit
    check switched off.  All fits run in a single ``Rscript`` call.

    Parameters
    ----------
    table : pandas.DataFrame
        Long-format data: the fit-id column plus every column the formulas
        use.  Columns named in ``factors`` become R factors; all others must
        be numeric.  Missing values are written as empty cells (R ``NA``);
        lme4 then drops those rows.
    formula : str
        lme4 formula of the full model, e.g.
        ``"value ~ objective + (1 + objective | subject) + (1 | subject:contact)"``.
    fit_column : str, optional
        Column holding the fit id (converted to ``str``); default ``"fit"``.
    reml : bool, optional
        Fit the main model by REML (default) or by maximum likelihood.
    reduced : str or None, optional
        A nested, smaller lme4 formula.  When given, the reduced and the full
        model are also fitted by ML and compared with
        ``anova(reduced, full, refit=FALSE)`` (likelihood-ratio test).
    factors : iterable of str, optional
        Columns converted with ``factor()``.  Levels are sorted in C-locale
        (byte) order of their string form, so the treatment-coding reference
        level is the first sorted level (note ``"10" < "2"``).

    Returns
    -------
    dict of str to dict
        Keyed by fit id, in order of first appearance.  Each value holds
        ``fixed`` (list of ``{name, estimate, se, df, t, p}``, Satterthwaite
        df), ``theta`` and ``lower`` (``{name: value}`` in lme4's theta
        order), ``sigma``, ``varcorr`` (list of ``{grp, var1, var2, vcov,
        sdcor}``), ``logLik``, ``deviance_criterion`` (``{REML, dev}`` from
        ``getME(fit, "devcomp")$cmp``), ``reml``, ``singular``
        (``isSingular(fit, tol=1e-4)``), ``n_obs``, ``ngrps`` (``{factor:
        count}``), ``lmerTest`` (whether the Satterthwaite machinery was
        available), ``optinfo`` (optimizer name, return code, message,
        evaluations, optimizer warnings, lme4 convergence codes/messages),
        ``warnings`` and ``messages`` (collected while fitting).  With
        ``reduced``: also ``ml_full`` and ``ml_reduced`` (the same structure,
        for the ML fits) and ``anova`` (``logLik_reduced, logLik_full,
        chisq, df, p, npar_reduced, npar_full, AIC_reduced, AIC_full,
        BIC_reduced, BIC_full, warnings, messages``).  A fit that failed is
        ``{"error": message, "warnings": [...], "messages": [...]}``.  R's
        ``NA`` is ``None``; ``NaN`` and infinities come back as floats.

    Raises
    ------
    RuntimeError
        If R is not available, the script fails (the message carries R's
        stderr) or runs longer than 600 s.
    KeyError
        If ``fit_column`` or a factor column is not in ``table``.
    """
    factors = [str(f) for f in factors]
    if fit_column not in table.columns:
        raise KeyError(f"fit column {fit_column!r} not in table")
    missing = [f for f in factors if f not in table.columns]
    if missing:
        raise KeyError(f"factor columns not in table: {missing}")
    if fit_column != "fit" and "fit" in table.columns:
        raise ValueError(
            "table has a column 'fit' that is not the fit column; rename it"
        )
    rscript = shutil.which("Rscript")
    if rscript is None:
        raise RuntimeError(SKIP_REASON)

    data = table.rename(columns={fit_column: "fit"}).copy()
    data["fit"] = data["fit"].astype(str)
    for col in factors:
        data[col] = data[col].map(lambda v: v if pd.isna(v) else str(v))
    spec = {
        "formula": formula,
        "reml": bool(reml),
        "reduced": reduced,
        "factors": factors,
    }
    with tempfile.TemporaryDirectory(prefix="ieegrsa-lme4-") as tmp:
        tmp_path = Path(tmp)
        csv_path = tmp_path / "input.csv"
        spec_path = tmp_path / "spec.json"
        out_path = tmp_path / "output.json"
        data.to_csv(csv_path, index=False, float_format="%.17g")
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        cmd = [rscript, "--vanilla", str(R_SCRIPT), str(csv_path),
               str(spec_path), str(out_path)]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"lmer_reference.R ran longer than {_TIMEOUT_S} s"
            ) from exc
        if proc.returncode != 0 or not out_path.is_file():
            raise RuntimeError(
                f"lmer_reference.R failed (exit {proc.returncode}):\n"
                f"{proc.stderr.strip()}"
            )
        with out_path.open(encoding="utf-8") as fh:
            return json.load(fh)
