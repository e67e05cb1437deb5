#!/usr/bin/env Rscript
# Reference linear mixed-model fits with lme4/lmerTest, for the Python tests.
#
# Usage: Rscript tests/r/lmer_reference.R INPUT.csv SPEC.json OUTPUT.json
#
# INPUT.csv  has a column `fit` (a string id) plus the data columns.
# SPEC.json  is {"formula": "<lme4 formula>", "reml": true|false,
#                "reduced": null | "<lme4 formula>", "factors": ["col", ...]}.
#            The `factors` columns become factors whose levels are sorted in
#            C-locale order (so the treatment-coding reference level is the
#            first sorted level); every other column except `fit` must be
#            numeric.
# OUTPUT.json is an object keyed by fit id (in order of first appearance);
#            see `fit_summary()` for the per-fit structure.  A fit that errors
#            gives {"error": "<message>", ...} and the script goes on.
#
# Numbers are written with 17 significant digits (round-trip precision);
# NA is written as null, NaN as NaN and +-Inf as +-Infinity (all of which
# Python's json module parses).

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3L) {
  stop("usage: Rscript lmer_reference.R INPUT.csv SPEC.json OUTPUT.json")
}
input_path <- args[[1L]]
spec_path <- args[[2L]]
output_path <- args[[3L]]

spec <- jsonlite::fromJSON(spec_path, simplifyVector = TRUE)
if (is.null(spec$formula)) stop("SPEC.json has no 'formula'")
reml <- if (is.null(spec$reml)) TRUE else isTRUE(as.logical(spec$reml))
reduced <- spec$reduced
if (!is.null(reduced) && (length(reduced) == 0L || is.na(reduced))) reduced <- NULL
factors <- as.character(unlist(spec$factors))

# ---------------------------------------------------------------- data ----
raw <- utils::read.csv(input_path, colClasses = "character",
                       na.strings = c("", "NA"), check.names = FALSE,
                       stringsAsFactors = FALSE)
if (!"fit" %in% names(raw)) stop("INPUT.csv has no column 'fit'")
missing_factors <- setdiff(factors, names(raw))
if (length(missing_factors) > 0L) {
  stop("factor columns not in INPUT.csv: ", paste(missing_factors, collapse = ", "))
}
for (col in setdiff(names(raw), "fit")) {
  x <- raw[[col]]
  if (col %in% factors) {
    # sort(method = "radix") sorts strings in C-locale order.
    lev <- sort(unique(x[!is.na(x)]), method = "radix")
    raw[[col]] <- factor(x, levels = lev)
  } else {
    num <- suppressWarnings(as.numeric(x))
    bad <- !is.na(x) & is.na(num) & !(x %in% c("NaN", "nan"))
    if (any(bad)) {
      stop("column '", col, "' is not numeric (e.g. '", x[bad][[1L]],
           "'); list it in 'factors'")
    }
    raw[[col]] <- num
  }
}
fit_ids <- unique(raw$fit)

# ------------------------------------------------------- JSON helpers ----
# Verbatim JSON number with round-trip precision.
jnum1 <- function(x) {
  if (is.na(x) && !is.nan(x)) return(NA)
  if (is.nan(x)) return(structure("NaN", class = "json"))
  if (is.infinite(x)) {
    return(structure(if (x > 0) "Infinity" else "-Infinity", class = "json"))
  }
  structure(sprintf("%.17g", x), class = "json")
}
# Numeric vector -> JSON array (always an array, even of length 1).
jarr <- function(x) lapply(as.numeric(x), jnum1)
# Named numeric vector -> JSON object.
jobj <- function(x, nms = names(x)) {
  out <- lapply(as.numeric(x), jnum1)
  names(out) <- nms
  out
}
jstr <- function(x) if (is.null(x) || length(x) == 0L) NA else as.character(x)

# Evaluate `expr`, collecting (and muffling) warnings and messages.
collecting <- function(expr) {
  warnings <- character(0)
  messages <- character(0)
  value <- withCallingHandlers(
    tryCatch(list(ok = TRUE, value = expr),
             error = function(e) list(ok = FALSE, error = conditionMessage(e))),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    message = function(m) {
      messages <<- c(messages, sub("\n$", "", conditionMessage(m)))
      invokeRestart("muffleMessage")
    }
  )
  c(value, list(warnings = as.list(warnings), messages = as.list(messages)))
}

ctrl <- lmerControl(optimizer = "bobyqa",
                    optCtrl = list(rhoend = 1e-12, maxfun = 1e6),
                    check.conv.singular = "ignore",
                    calc.derivs = TRUE)

fit_one <- function(formula_string, data, REML) {
  f <- stats::as.formula(formula_string)
  # lmerTest re-evaluates the call to get the deviance function: keep the
  # data reachable from the formula's environment as well as from here.
  environment(f) <- environment()
  lmerTest::lmer(f, data = data, REML = REML, control = ctrl)
}

fixed_table <- function(fit) {
  cf <- if (inherits(fit, "lmerModLmerTest")) {
    summary(fit, ddf = "Satterthwaite")$coefficients
  } else {
    summary(fit)$coefficients
  }
  col <- function(name) {
    if (name %in% colnames(cf)) cf[, name] else rep(NA_real_, nrow(cf))
  }
  est <- col("Estimate"); se <- col("Std. Error"); df <- col("df")
  tv <- col("t value"); p <- col("Pr(>|t|)")
  lapply(seq_len(nrow(cf)), function(i) {
    list(name = rownames(cf)[[i]], estimate = jnum1(est[[i]]),
         se = jnum1(se[[i]]), df = jnum1(df[[i]]), t = jnum1(tv[[i]]),
         p = jnum1(p[[i]]))
  })
}

varcorr_rows <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  lapply(seq_len(nrow(vc)), function(i) {
    list(grp = jstr(vc$grp[[i]]), var1 = jstr(vc$var1[[i]]),
         var2 = jstr(vc$var2[[i]]), vcov = jnum1(vc$vcov[[i]]),
         sdcor = jnum1(vc$sdcor[[i]]))
  })
}

optinfo_summary <- function(fit) {
  oi <- fit@optinfo
  conv_lme4 <- oi$conv$lme4
  list(
    optimizer = jstr(oi$optimizer),
    conv_opt = if (is.null(oi$conv$opt)) NA else jnum1(oi$conv$opt),
    message = jstr(oi$message),
    feval = if (is.null(oi$feval)) NA else jnum1(oi$feval),
    optimizer_warnings = as.list(as.character(unlist(oi$warnings))),
    lme4_code = as.list(as.numeric(unlist(conv_lme4$code))),
    lme4_messages = as.list(as.character(unlist(conv_lme4$messages)))
  )
}

# Everything the Python side compares for one fitted model.
fit_summary <- function(fit) {
  theta <- getME(fit, "theta")
  cmp <- getME(fit, "devcomp")$cmp
  ng <- ngrps(fit)
  list(
    fixed = fixed_table(fit),
    theta = jobj(theta),
    lower = jobj(getME(fit, "lower"), names(theta)),
    sigma = jnum1(sigma(fit)),
    varcorr = varcorr_rows(fit),
    logLik = jnum1(as.numeric(logLik(fit))),
    deviance_criterion = list(REML = jnum1(unname(cmp["REML"])),
                              dev = jnum1(unname(cmp["dev"]))),
    reml = isREML(fit),
    singular = isSingular(fit, tol = 1e-4),
    n_obs = jnum1(nobs(fit)),
    ngrps = jobj(ng),
    lmerTest = inherits(fit, "lmerModLmerTest"),
    optinfo = optinfo_summary(fit)
  )
}

summarise_fit <- function(formula_string, data, REML) {
  res <- collecting({
    fit <- fit_one(formula_string, data, REML)
    list(fit = fit, summary = fit_summary(fit))
  })
  if (!res$ok) {
    return(list(fit = NULL,
                summary = list(error = res$error, warnings = res$warnings,
                               messages = res$messages)))
  }
  s <- res$value$summary
  s$warnings <- res$warnings
  s$messages <- res$messages
  list(fit = res$value$fit, summary = s)
}

anova_summary <- function(reduced_fit, full_fit) {
  res <- collecting({
    a <- anova(reduced_fit, full_fit, refit = FALSE)
    # rows are ordered by number of parameters; identify them by name.
    rn <- rownames(a)
    r <- which(rn == "reduced_fit"); f <- which(rn == "full_fit")
    if (length(r) != 1L || length(f) != 1L) { r <- 1L; f <- 2L }
    list(
      logLik_reduced = jnum1(a$logLik[[r]]),
      logLik_full = jnum1(a$logLik[[f]]),
      chisq = jnum1(a$Chisq[[2L]]),
      df = jnum1(a$Df[[2L]]),
      p = jnum1(a[["Pr(>Chisq)"]][[2L]]),
      npar_reduced = jnum1(a$npar[[r]]),
      npar_full = jnum1(a$npar[[f]]),
      AIC_reduced = jnum1(AIC(reduced_fit)),
      AIC_full = jnum1(AIC(full_fit)),
      BIC_reduced = jnum1(BIC(reduced_fit)),
      BIC_full = jnum1(BIC(full_fit))
    )
  })
  if (!res$ok) {
    return(list(error = res$error, warnings = res$warnings,
                messages = res$messages))
  }
  out <- res$value
  out$warnings <- res$warnings
  out$messages <- res$messages
  out
}

# ---------------------------------------------------------------- fits ----
results <- list()
for (id in fit_ids) {
  d <- raw[raw$fit == id, setdiff(names(raw), "fit"), drop = FALSE]
  rownames(d) <- NULL
  d <- droplevels(d)
  main <- summarise_fit(spec$formula, d, reml)
  out <- main$summary
  if (!is.null(reduced) && is.null(out$error)) {
    ml_full <- summarise_fit(spec$formula, d, FALSE)
    ml_reduced <- summarise_fit(reduced, d, FALSE)
    out$ml_full <- ml_full$summary
    out$ml_reduced <- ml_reduced$summary
    out$anova <- if (is.null(ml_full$fit) || is.null(ml_reduced$fit)) {
      list(error = paste("ML fit failed:",
                         paste(c(ml_full$summary$error,
                                 ml_reduced$summary$error), collapse = "; ")))
    } else {
      anova_summary(ml_reduced$fit, ml_full$fit)
    }
  }
  results[[as.character(id)]] <- out
}

json <- if (length(results) == 0L) "{}" else
  jsonlite::toJSON(results, auto_unbox = TRUE, json_verbatim = TRUE,
                   na = "null", null = "null", digits = NA, pretty = TRUE)
writeLines(json, output_path, useBytes = TRUE)
