#!/bin/sh
# MMD gradient flows (Arbel et al. 2019; DMMD-style multi-level flow):
#  1. N(0, I) -> grid9 (10000 target samples, 1000 particles): with noise
#     injection (configs/mmd_grid9_noise.yaml) every mode holds 5-20% of the
#     particles and the energy distance to 2000 fresh draws is < 0.01;
#  2. the narrow noiseless flow (mmd_grid9_stuck.yaml) gets stuck: the four
#     corner modes hold < 2/9 together (4/9 at the target) -- reported;
#  3. multi-level vs single bandwidth on grid9 and on a 10-d Gaussian
#     mixture (bench/mmd_multilevel.sh, also part of make bench).
# Writes runs/long/mmd_grid9_{noise,stuck}.png with scripts/pflow-plot.
set -u
BUILD=${BUILD:-build}
PY=${PF_PYTHON:-/usr/bin/python3}
OUT=${MMD_OUT:-runs/long}
mkdir -p "$OUT"
for c in grid9_noise grid9_stuck; do
  "$BUILD/pflow" run configs/mmd_$c.yaml output.path="$OUT/mmd_$c.h5" \
    output.overwrite=true 2>/dev/null >/dev/null || { echo "run mmd_$c failed"; exit 1; }
done
for c in noise stuck; do
  $PY scripts/pflow-plot scatter "$OUT/mmd_grid9_$c.h5" -o "$OUT/mmd_grid9_$c.png" \
    >/dev/null 2>&1 || echo "(plot of mmd_grid9_$c failed)"
done
$PY - "$OUT" <<'PY'
import sys, h5py, numpy as np
out = sys.argv[1]
modes = np.array([[a, b] for a in (-5, 0, 5) for b in (-5, 0, 5)], float)
def load(name):
    f = h5py.File(f"{out}/mmd_{name}.h5", "r")
    return (f["posterior/x"][0], f["diagnostics/iteration"][:],
            f["diagnostics/energy"][0], f["diagnostics/energy_u"][0])
ok = True
fr = {}
for c in ("noise", "stuck"):
    x, it, e, eu = load("grid9_" + c)
    near = np.argmin(((x[:, None, :] - modes[None]) ** 2).sum(-1), 1)
    fr[c] = np.bincount(near, minlength=9) / len(x)
    print(f"grid9 {c}: mode fractions {np.round(fr[c], 3).tolist()}  "
          f"energy {e[-1]:.4f} (energy_u {eu[-1]:.4f}) at iteration {it[-1]}")
    if c == "noise":
        first = it[np.argmax(e < 0.01)] if (e < 0.01).any() else None
        print(f"  energy < 0.01 first at iteration {first}")
        if not (fr[c].min() >= 0.05 and fr[c].max() <= 0.20 and e[-1] < 0.01):
            print("FAIL: noise injection did not reach 5-20% per mode and energy < 0.01"); ok = False
corners = fr["stuck"][[0, 2, 6, 8]].sum()
print(f"grid9 stuck: corner modes hold {corners:.3f} (4/9 = 0.444 at the target), "
      f"centre {fr['stuck'][4]:.3f}")
if not corners < 2 / 9:
    print("FAIL: the narrow noiseless flow did not get stuck"); ok = False
sys.exit(0 if ok else 1)
PY
st=$?
BUILD="$BUILD" OUT="$OUT" PF_PYTHON="$PY" sh bench/mmd_multilevel.sh || st=1
exit $st
