#!/bin/sh
# Multi-level (noise-adaptive) MMD flow against the single-bandwidth flow,
# on grid9 (configs/mmd_grid9_multilevel.yaml vs mmd_grid9_stuck.yaml) and
# on a 10-d Gaussian mixture (mmd_gmm10d_multilevel.yaml vs
# mmd_gmm10d_single.yaml): the iteration and the wall time at which each
# flow first reaches the energy distance the single-bandwidth flow has at
# its end.  Exit 1 if the multi-level flow needs as many iterations or
# more.  Used by make bench and by tests/long/mmd_grid9.sh.
# usage: BUILD=build OUT=dir sh bench/mmd_multilevel.sh
set -u
BUILD=${BUILD:-build}
PY=${PF_PYTHON:-/usr/bin/python3}
OUT=${OUT:-$BUILD/bench_mmd_multilevel}
mkdir -p "$OUT"
for c in grid9_multilevel grid9_stuck gmm10d_multilevel gmm10d_single; do
  "$BUILD/pflow" run configs/mmd_$c.yaml output.path="$OUT/mmd_$c.h5" \
    output.overwrite=true 2>/dev/null >/dev/null || { echo "run mmd_$c failed"; exit 1; }
done
$PY - "$OUT" <<'PY'
import sys, h5py, numpy as np
out = sys.argv[1]
def load(name):
    f = h5py.File(f"{out}/mmd_{name}.h5", "r")
    return (f["diagnostics/iteration"][:], f["diagnostics/energy"][0],
            f["diagnostics/wall_time"][0])
ok = True
print(f"{'problem':<10}{'goal energy':>12}{'single it':>10}{'single s':>10}"
      f"{'multi it':>10}{'multi s':>10}{'it ratio':>10}")
for prob, a, b in (("grid9", "grid9_multilevel", "grid9_stuck"),
                   ("gmm10d", "gmm10d_multilevel", "gmm10d_single")):
    ia, ea, wa = load(a)
    ib, eb, wb = load(b)
    goal = eb[-1]
    kb = int(np.argmax(eb <= goal))
    if (ea <= goal).any():
        ka = int(np.argmax(ea <= goal))
        hit, ts, ratio = ia[ka], f"{wa[ka]:.1f}", f"{ib[kb] / ia[ka]:.2f}"
    else:
        hit, ts, ratio = None, "-", "-"
    print(f"{prob:<10}{goal:>12.4f}{ib[kb]:>10}{wb[kb]:>10.1f}{str(hit):>10}"
          f"{ts:>10}{ratio:>10}")
    print(f"mmd_multilevel_iteration_ratio_{prob} {ratio}")
    if hit is None or hit >= ib[kb]:
        print(f"FAIL: on {prob} the multi-level flow is not faster"); ok = False
sys.exit(0 if ok else 1)
PY
