#!/bin/sh
# Training throughput of the learned samplers (pis, log-variance loss, grid9,
# batch 512 x 100 Euler steps, width 64, depth 2, 64 frequencies) against
# bench/ref_pathspace.py, the same network and loss in PyTorch (CPU), both
# on 2 threads in the same run.  Rate = trajectory steps (batch x Euler
# steps) per second of training; steps 2..n_iter-1 are timed (the first
# warms up, the last also samples the final particles).
set -eu
PY=${PF_PYTHON:-/usr/bin/python3}
BUILD=${BUILD:-build}
B=${PS_BATCH:-512}
N=${PS_STEPS:-100}
IT=${PS_ITERS:-22}
out="$BUILD/bench_pathspace.h5"
rm -f "$out"
OMP_NUM_THREADS=2 "$BUILD/pflow" run configs/pis_grid9_lv.yaml \
  output.path="$out" sampler.n_particles=$B sampler.batch_size=$B \
  sampler.n_steps=$N sampler.n_iter=$IT diagnostics.every=1 \
  output.trajectory_every=0 >/dev/null 2>&1
ours=$($PY - "$out" "$B" "$N" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r"); B, N = int(sys.argv[2]), int(sys.argv[3])
w = f["diagnostics/wall_time"][0]
k = len(w) - 2            # rows: iteration 0..n_iter; time steps 2..n_iter-1
print("%.4g" % ((k - 1) * B * N / (w[-2] - w[1])))
PY
)
rm -f "$out"
echo "pflow_pis_lv_traj_steps_per_s $ours"
ref=$($PY bench/ref_pathspace.py --batch $B --steps $N \
      --iters 5 --threads 2 | awk '{print $2}')
echo "torch_pis_lv_traj_steps_per_s $ref"
awk -v a="$ours" -v b="$ref" 'BEGIN {printf "ratio_pis_lv_pflow_over_torch %.2f\n", a / b}'
