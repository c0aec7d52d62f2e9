#!/bin/sh
# Quadratic target on the simplex (D = 20, preset shi2022): a Metropolis-
# adjusted mirror-Langevin reference (1000 chains), then msvgd at the
# paper's RMSProp 0.1.  Measured (seed 1): ED 0.134 -> 0.187 (T = 60) ->
# 0.024 (T = 200) -> 0.025 (T = 500); the paper's curve rises to ~0.34 and
# falls to ~0 by T ~ 200.  Checked: below 0.05 at T = 500.
set -eu
out=${TMPDIR:-/tmp}/pflow_stein_quadratic.$$
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
"$PFLOW" run configs/quadratic_simplex_reference.yaml output.path="$out/ref.h5" >/dev/null
"$PFLOW" run configs/quadratic_simplex_msvgd.yaml output.path="$out/m.h5" \
  diagnostics.reference.file="$out/ref.h5" >/dev/null
"$PF_PYTHON" tests/long/stein_check.py "$out/m.h5" --energy-below 0.05
