#!/bin/sh
# Sparse Dirichlet (D = 20) of Shi, Liu & Mackey (2022): msvgd reaches the
# energy-distance floor (< 0.02 at iteration 500; paper: ~0 by T ~ 60) while
# projected_svgd stays above 1 (paper: 1.45-1.53).  Means of theta_1..3
# against alpha_k / 102 = 90.1, 5.1, 5.1 / 102:
# - at the paper's RMSProp step 0.1 the particles end in a period-2 cycle
#   of RMSProp's normalized steps, and the final iterate's mean of theta_1
#   is 0.0099..0.0105 away (seeds 1-8), so that run is checked at 0.011;
# - the same run at step 0.01 for 2000 iterations converges (|dev| <= 0.0013
#   over seeds 1-2) and is checked at the 0.01.
set -eu
out=${TMPDIR:-/tmp}/pflow_stein_dirichlet.$$
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
M="0.88333,0.05,0.05"
"$PFLOW" run configs/dirichlet_sparse_msvgd.yaml output.path="$out/m.h5" >/dev/null
"$PF_PYTHON" tests/long/stein_check.py "$out/m.h5" --energy-below 0.02 --means $M --tol 0.011
"$PFLOW" run configs/dirichlet_sparse_msvgd.yaml output.path="$out/m2.h5" \
  sampler.step_size=0.01 sampler.n_iter=2000 >/dev/null
"$PF_PYTHON" tests/long/stein_check.py "$out/m2.h5" --energy-below 0.005 --means $M --tol 0.01
"$PFLOW" run configs/dirichlet_sparse_projected_svgd.yaml output.path="$out/p.h5" >/dev/null
"$PF_PYTHON" tests/long/stein_check.py "$out/p.h5" --energy-above 1
