#!/bin/sh
# Bayesian logistic regression on breast cancer, 20% held out (Shi, Liu &
# Mackey 2022, lr.py, on this data set): svng should reach the held-out
# log-likelihood plateau of a long svgd run in at least 5x fewer
# iterations.  Prints both iteration counts and the ratio.
set -eu
out=${TMPDIR:-/tmp}/pflow_svng_logreg.$$
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
"$PFLOW" run configs/logreg_svgd.yaml output.path="$out/g.h5" >/dev/null
"$PFLOW" run configs/logreg_svng.yaml output.path="$out/n.h5" >/dev/null
"$PF_PYTHON" tests/long/svng_logreg.py "$out/g.h5" "$out/n.h5"
