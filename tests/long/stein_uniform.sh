#!/bin/sh
# Uniform on [-1, 1]^2 (Shi, Liu & Mackey 2022, uniform.ipynb): msvgd with
# the box's entropic (tanh) map, 500 particles, h = 0.1, RMSProp 0.01, 2000
# iterations: energy distance to 500 uniform draws below 0.006 (iid floor
# ~0.003; paper ~0.002).
set -eu
out=${TMPDIR:-/tmp}/pflow_stein_uniform.$$
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
"$PFLOW" run configs/uniform_box_msvgd.yaml output.path="$out/u.h5" >/dev/null
"$PF_PYTHON" tests/long/stein_check.py "$out/u.h5" --energy-below 0.006
