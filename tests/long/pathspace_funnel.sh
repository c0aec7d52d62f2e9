#!/bin/sh
# Richter & Berner (ICLR 2024), funnel d = 10 (log Z = 0): pis with the
# log-variance loss is at least as good as with the KL loss in |log Z_hat|
# (IS estimates; 0.05 of slack for the Monte Carlo error of 20000 draws).
set -u
BUILD=${BUILD:-build}
PY=${PF_PYTHON:-/usr/bin/python3}
OUT=${PS_OUT:-runs/long}
mkdir -p "$OUT"
for L in lv kl; do
  "$BUILD/pflow" run configs/pis_funnel_$L.yaml output.path="$OUT/pis_funnel_$L.h5" \
    output.overwrite=true 2>/dev/null >/dev/null || { echo "run pis_funnel_$L failed"; exit 1; }
done
$PY - "$OUT" <<'PY'
import sys, h5py
out = sys.argv[1]
e = {}
for L in ("lv", "kl"):
    a = dict(h5py.File(f"{out}/pis_funnel_{L}.h5", "r")["learned"].attrs)
    e[L] = abs(a["log_z_is"])
    print(f"pis funnel {L}: log_z_is {a['log_z_is']:.4f} log_z_lb {a['log_z_lb']:.4f} ess {a['ess']:.3f}")
sys.exit(0 if e["lv"] <= e["kl"] + 0.05 else 1)
PY
