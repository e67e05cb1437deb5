#!/usr/bin/env Rscript
# Time lme4/lmerTest on the same per-fit loop that the Python solver runs.
#
# Usage: Rscript benchmarks/lme4_loop.R INPUT.csv SPEC.json
#
# Inputs are those of tests/r/lmer_reference.R (a `fit` id column plus data
# columns; SPEC.json with "formula", "reml", "reduced", "factors").  Timed:
# for every fit id, lmerTest::lmer(formula, REML = reml) with the default
# lmerControl() and summary(fit) (Satterthwaite t-table).  Not timed: package
# loading, reading the CSV, factor conversion and splitting the table by fit
# id.  "reduced" is ignored.  Prints one line: R_SECONDS <elapsed seconds>.
# Fits that error are counted and reported on stderr.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2L) stop("usage: Rscript lme4_loop.R INPUT.csv SPEC.json")

spec <- jsonlite::fromJSON(args[[2L]], simplifyVector = TRUE)
reml <- if (is.null(spec$reml)) TRUE else isTRUE(as.logical(spec$reml))
factors <- as.character(unlist(spec$factors))
formula <- stats::as.formula(spec$formula)

raw <- utils::read.csv(args[[1L]], colClasses = "character",
                       na.strings = c("", "NA"), check.names = FALSE,
                       stringsAsFactors = FALSE)
if (!"fit" %in% names(raw)) stop("INPUT.csv has no column 'fit'")
for (col in setdiff(names(raw), "fit")) {
  x <- raw[[col]]
  if (col %in% factors) {
    raw[[col]] <- factor(x, levels = sort(unique(x[!is.na(x)]), method = "radix"))
  } else {
    raw[[col]] <- suppressWarnings(as.numeric(x))
  }
}
pieces <- lapply(split(raw[setdiff(names(raw), "fit")],
                       factor(raw$fit, levels = unique(raw$fit))),
                 function(d) { rownames(d) <- NULL; droplevels(d) })

n_errors <- 0L
first_error <- NULL
start <- proc.time()
for (d in pieces) {
  res <- tryCatch(
    suppressWarnings(suppressMessages({
      fit <- lmerTest::lmer(formula, data = d, REML = reml)
      summary(fit)$coefficients
    })),
    error = function(e) e
  )
  if (inherits(res, "error")) {
    n_errors <- n_errors + 1L
    if (is.null(first_error)) first_error <- conditionMessage(res)
  }
}
elapsed <- (proc.time() - start)[["elapsed"]]

if (n_errors > 0L) {
  message(sprintf("%d of %d fits failed; first error: %s",
                  n_errors, length(pieces), first_error))
}
cat(sprintf("R_SECONDS %.6f\n", elapsed))
