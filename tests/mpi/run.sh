#!/bin/sh
# MPI reproducibility checks (issue 10): the same seed gives bitwise
# identical output datasets for 1, 2 and 3 ranks x OMP_NUM_THREADS 1 and 2,
# equal to the serial build's, for sharded chains (mala), interacting
# particles (svgd) and a mirrored sampler (msvgd); for the samplers whose
# rows are split by hand (svmd, svng, the low-dimensional MMD flows) on 2
# and 3 ranks x 1 and 2 threads; checkpoints under MPI (SIGTERM on 2 ranks,
# exit 75, --resume: equal to an uninterrupted run); both output backends
# (output.io collective / gather) write the same file; errors are agreed by
# all ranks (no hang, one message).  Every dataset of the file is compared with
# h5diff except /diagnostics/wall_time (root attributes such as created_at,
# threads and ranks differ by design and are not compared).
#
# usage: run.sh MPI_PFLOW SERIAL_PFLOW TMPDIR
# exit 0 all passed, 1 a check failed, 77 skipped (reason on stdout).
set -u
MPFLOW=$1
SPFLOW=$2
T=$3
if [ ! -x "$MPFLOW" ]; then
  echo "skip: no MPI build at $MPFLOW (make MPI=1; needs libopenmpi-dev, libhdf5-openmpi-dev)"
  exit 77
fi
for tool in mpirun h5diff h5ls; do
  command -v $tool >/dev/null 2>&1 || { echo "skip: $tool not installed"; exit 77; }
done
mkdir -p "$T"
MPIRUN="mpirun --oversubscribe --allow-run-as-root --bind-to none"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_WAIT_POLICY=passive
# Under SAN=1: OpenMPI's own allocations that outlive MPI_Finalize are not
# reported (tests/mpi/lsan.supp).  The suppressions match library names,
# so OpenMPI must keep its components loaded (else their frames show as
# "<unknown module>") and the leak stacks must be full (those libraries
# have no frame pointers).
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export OMPI_MCA_mca_base_component_disable_dlclose=1
fail=0

cat > "$T/mala.yaml" <<'YAML'
seed: 7
target: {name: gaussian, mean: [1.0, -1.0, 0.5], cov: [[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.5]]}
sampler: {name: mala, n_particles: 50, n_iter: 200, step_size: 0.5}
diagnostics: {every: 25, metrics: [moments, energy], reference: {source: exact, n: 300}}
output: {trajectory_every: 40}
YAML
cat > "$T/svgd.yaml" <<'YAML'
seed: 3
target: {name: gaussian, mean: [1.0, -1.0], cov: [[1.0, 0.8], [0.8, 2.0]]}
sampler: {name: svgd, n_particles: 300, n_iter: 60, step_size: 0.05, kernel: {name: rbf, bandwidth: median_log}}
diagnostics: {every: 20, metrics: [ksd, moments]}
output: {trajectory_every: 20}
YAML
cat > "$T/msvgd.yaml" <<'YAML'
seed: 1
target: {name: dirichlet, preset: sparse20}
sampler: {name: msvgd, n_particles: 200, n_iter: 40, init: dirichlet, init_concentration: 5,
          kernel: {name: imq, bandwidth: median_ref}, optimizer: rmsprop, step_size: 0.1}
diagnostics: {every: 10, metrics: [energy, moments], reference: {source: exact, n: 300}}
output: {trajectory_every: 20}
YAML
# Split by hand: svmd's 64-row blocks of its F' GEMMs (150 particles: 3
# blocks, Krylov eigensolver), svng's per-particle Fisher metrics
# (logistic regression), the low-dimensional MMD witness rows with the
# generic kernel path (3 scales, noise injection, flow_mmd2 every 3) and
# the inlined-exp Gaussian path (multilevel, minibatches).
cat > "$T/svmd.yaml" <<'YAML'
seed: 2
target: {name: dirichlet, preset: sparse20}
sampler: {name: svmd, n_particles: 150, n_iter: 8, init: dirichlet, init_concentration: 5,
          kernel: {name: imq, bandwidth: median_ref}, eigen_threshold: 0.998, optimizer: rmsprop, step_size: 0.1}
diagnostics: {every: 4, metrics: [moments]}
output: {trajectory_every: 4}
YAML
cat > "$T/svng.yaml" <<YAML
seed: 1
target: {name: logistic_regression, data: $(pwd)/data/breast_cancer.csv, test_fraction: 0.2, split_seed: 1,
         minibatch: 64, minibatch_seed: 1}
sampler: {name: svng, n_particles: 20, n_iter: 10, step_size: 0.5, optimizer: plain, ridge: 0.01,
          eigen_threshold: 0.98, jitter: 0, kernel: {name: rbf, bandwidth: median_ref}}
diagnostics: {every: 5, metrics: [heldout_loglik]}
output: {trajectory_every: 5}
YAML
cat > "$T/mmd_flow.yaml" <<'YAML'
seed: 1
target: {name: empirical, from: {name: gmm, preset: grid9}, n: 500, seed: 7}
sampler: {name: mmd_flow, n_particles: 300, n_iter: 12, step_size: 0.4, kernel: {name: rbf, bandwidth: median, scales: [0.02, 0.2, 1]},
          noise_schedule: power, noise_level: 2.0, noise_decay: 1.0, noise_every: 10, mmd2_every: 3}
diagnostics: {every: 6, metrics: [energy], reference: {source: exact, n: 200}}
output: {trajectory_every: 6}
YAML
cat > "$T/mmd_ml.yaml" <<'YAML'
seed: 3
target: {name: gmm, preset: grid9}
sampler: {name: mmd_flow_multilevel, n_particles: 200, n_iter: 12, n_target: 300, n_levels: 3, step_size: 0.45,
          batch_size: 100, mmd2_every: 4, kernel: {name: rbf, bandwidth: median}}
diagnostics: {every: 6, metrics: [energy], reference: {source: exact, n: 200}}
output: {trajectory_every: 6}
YAML

# compare A B: the data of every dataset of A (but wall_time) must equal
# B's bit for bit (h5diff without a tolerance compares exactly).  Only the
# dataset's own block of h5diff's report counts: attributes such as the
# dimension scales' REFERENCE_LIST hold file addresses, not data.
compare() {
  sets=$(h5ls -r "$1" | awk '$2 == "Dataset" {print $1}' | grep -v '/wall_time$')
  [ -n "$sets" ] || { echo "FAIL: no datasets in $1"; return 1; }
  for s in $sets; do
    h5diff -r "$1" "$2" "$s" "$s" >"$T/diff.txt" 2>&1
    verdict=$(awk '/^dataset:/ {on = 1; next} on && /differences found/ {print; exit}
                   on && /^attribute:/ {exit}' "$T/diff.txt")
    if [ "$verdict" != "0 differences found" ]; then
      echo "FAIL: $s differs between $1 and $2"
      head -8 "$T/diff.txt"
      return 1
    fi
  done
  return 0
}

for cfg in mala svgd msvgd svmd svng mmd_flow mmd_ml; do
  ref="$T/$cfg.serial.h5"
  rm -f "$ref"
  if ! OMP_NUM_THREADS=1 "$SPFLOW" run "$T/$cfg.yaml" output.path="$ref" >"$T/$cfg.serial.log" 2>&1; then
    echo "FAIL: serial $cfg run"; cat "$T/$cfg.serial.log"; fail=1; continue
  fi
  case $cfg in mala|svgd|msvgd) nps="1 2 3" ;; *) nps="2 3" ;; esac
  for np in $nps; do
    for th in 1 2; do
      out="$T/$cfg.np$np.t$th.h5"
      rm -f "$out"
      if ! OMP_NUM_THREADS=$th $MPIRUN -np $np "$MPFLOW" run "$T/$cfg.yaml" \
          output.path="$out" >"$T/$cfg.np$np.t$th.log" 2>&1; then
        echo "FAIL: $cfg with $np ranks x $th threads"; tail -5 "$T/$cfg.np$np.t$th.log"
        fail=1; continue
      fi
      if compare "$ref" "$out"; then
        echo "ok: $cfg $np ranks x $th threads = serial (bitwise)"
      else
        fail=1
      fi
    done
  done
done

# Output backends (output.io): collective (every rank writes its own rows
# through parallel HDF5; the default) and gather (rank 0 writes all) give
# the same datasets and chunk shapes.  With compression the svgd
# trajectory records (4.8 KB) are deflated: collective filtered writes.
chunks() { h5dump -p -H "$1" | grep CHUNKED; }
for cfg in mala svgd; do
  for np in 2 3; do
    for io in gather collective; do
      for z in 0 4; do
        [ $cfg = mala ] && [ $z = 4 ] && continue
        out="$T/$cfg.np$np.$io.z$z.h5"
        rm -f "$out"
        if ! OMP_NUM_THREADS=1 $MPIRUN -np $np "$MPFLOW" run "$T/$cfg.yaml" \
            output.io=$io output.compression=$z output.path="$out" \
            >"$T/$cfg.io.log" 2>&1; then
          echo "FAIL: $cfg $np ranks output.io=$io compression=$z"
          tail -5 "$T/$cfg.io.log"; fail=1; continue
        fi
      done
    done
    for z in 0 4; do
      [ $cfg = mala ] && [ $z = 4 ] && continue
      g="$T/$cfg.np$np.gather.z$z.h5"; c="$T/$cfg.np$np.collective.z$z.h5"
      [ -e "$g" ] && [ -e "$c" ] || continue
      if compare "$T/$cfg.serial.h5" "$g" && compare "$g" "$c" &&
         [ "$(chunks "$g")" = "$(chunks "$c")" ]; then
        echo "ok: $cfg $np ranks: output.io gather = collective = serial (compression $z)"
      else
        echo "FAIL: $cfg $np ranks: gather and collective outputs differ (compression $z)"
        fail=1
      fi
    done
  done
done
z=$(h5dump -p -H -d /trajectory/x "$T/svgd.np2.collective.z4.h5" | grep -c DEFLATE)
[ "$z" -ge 1 ] && echo "ok: compressed trajectory under MPI-IO" || {
  echo "FAIL: svgd trajectory not deflated with compression 4"; fail=1; }

# Sweeps across ranks: 2 ranks (two groups of one) and 4 ranks with
# --ranks-per-job 2 (two groups of two, each on its own communicator with
# collective output) run 4 jobs; every job's file equals the sequential
# sweep's.
rm -rf "$T/sw"
if OMP_NUM_THREADS=1 "$SPFLOW" run "$T/mala.yaml" output.path="$T/sw/seq.h5" \
     --sweep 'seed=range(0,4)' >"$T/sw.log" 2>&1; then
  for spec in "2 1" "4 2"; do
    set -- $spec
    if OMP_NUM_THREADS=1 $MPIRUN -np $1 "$MPFLOW" run "$T/mala.yaml" \
         output.path="$T/sw/np$1.h5" --sweep 'seed=range(0,4)' \
         --ranks-per-job $2 >"$T/sw.np$1.log" 2>&1; then
      ok=1
      for j in 0 1 2 3; do
        compare "$T/sw/seq/job-000$j.h5" "$T/sw/np$1/job-000$j.h5" || ok=0
      done
      [ $ok = 1 ] && echo "ok: sweep of 4 jobs on $1 ranks, $2 per job = sequential sweep" || fail=1
    else
      echo "FAIL: sweep on $1 ranks"; tail -5 "$T/sw.np$1.log"; fail=1
    fi
  done
else
  echo "FAIL: sequential sweep"; tail -5 "$T/sw.log"; fail=1
fi

# Checkpoints under MPI.  A run on 2 ranks gets SIGTERM (sent to the rank
# processes, as srun or a scheduler does; mpirun itself would kill them,
# so under mpirun send it SIGUSR1, which it forwards) once its first
# periodic checkpoint exists: it checkpoints, marks the file preempted and
# exits 75; `run --resume` then finishes it.  The result must equal an
# uninterrupted run on 2 ranks, every dataset and attribute but timings
# (tests/integration/compare_resumed.py).  svng: replicated particles, its
# per-rank Fisher averages gathered into the checkpoint, resumed on 3
# ranks (rank 0 wrote the one-process layout).  mala: sharded chains,
# every buffer stored per rank; resuming on 3 ranks is refused (exit 1,
# the output untouched), on 2 ranks it continues.
PY=${PF_PYTHON:-python3}
CMPR="$(cd "$(dirname "$0")/.." && pwd)/integration/compare_resumed.py"
T=$(cd "$T" && pwd)  # the runs below work in their own directories
MPFLOW="$(cd "$(dirname "$MPFLOW")" && pwd)/$(basename "$MPFLOW")"
cat > "$T/ck_svng.yaml" <<YAML
seed: 5
target: {name: logistic_regression, data: $(pwd)/data/breast_cancer.csv, test_fraction: 0.2, split_seed: 1,
         minibatch: 64, minibatch_seed: 1}
sampler: {name: svng, n_particles: 20, n_iter: 120, step_size: 0.5, optimizer: plain, ridge: 0.01,
          eigen_threshold: 0.98, jitter: 0, kernel: {name: rbf, bandwidth: median_ref}}
diagnostics: {every: 20, metrics: [heldout_loglik]}
output: {trajectory_every: 40, checkpoint_every: 5}
YAML
cat > "$T/ck_mala.yaml" <<'YAML'
seed: 9
target: {name: gaussian, mean: [1.0, -1.0, 0.5], cov: [[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.5]]}
sampler: {name: mala, n_particles: 40, n_iter: 600, step_size: 0.5}
diagnostics: {every: 100, metrics: [moments]}
output: {trajectory_every: 200, checkpoint_every: 10}
YAML
# preempt CFG DIR NP [KEY=VALUE]: run CFG in DIR on NP ranks as out.h5 and
# SIGTERM the ranks once the first checkpoint exists.  0: it exited 75;
# 2: it had already finished (a fast machine: the caller retries longer).
preempt() {
  rm -rf "$2"; mkdir -p "$2"
  (cd "$2" && OMP_NUM_THREADS=1 exec $MPIRUN -np $3 "$MPFLOW" run "$1" output.path=out.h5 \
     ${4:+"$4"} >run.log 2>&1) &
  mp=$!
  i=0
  while [ ! -e "$2/out.h5.ckpt" ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i + 1)); done
  kill -TERM $(pgrep -P $mp) 2>/dev/null
  wait $mp
  rc=$?
  [ $rc = 75 ] && return 0
  [ $rc = 0 ] && return 2
  echo "FAIL: $1 on $3 ranks: exit $rc after SIGTERM, expected 75"; tail -5 "$2/run.log"
  return 1
}
for spec in "svng 3 600" "mala 2 3000"; do
  set -- $spec
  cfg=$1; rnp=$2; d="$T/ck/$cfg"; more=
  preempt "$T/ck_$cfg.yaml" "$d" 2; rc=$?
  if [ $rc = 2 ]; then
    more="sampler.n_iter=$3"
    echo "note: $cfg finished before SIGTERM; again with $more"
    preempt "$T/ck_$cfg.yaml" "$d" 2 "$more"; rc=$?
  fi
  [ $rc = 0 ] || { [ $rc = 2 ] && echo "FAIL: $cfg finished before SIGTERM"; fail=1; continue; }
  st=$(h5dump -a /status "$d/out.h5" 2>/dev/null | grep -c '"preempted"')
  [ "$st" = 1 ] || { echo "FAIL: $cfg: preempted output not marked so"; fail=1; }
  rm -rf "$d.ref"; mkdir -p "$d.ref"
  if ! (cd "$d.ref" && OMP_NUM_THREADS=1 $MPIRUN -np 2 "$MPFLOW" run "$T/ck_$cfg.yaml" \
          output.path=out.h5 ${more:+"$more"} >run.log 2>&1); then
    echo "FAIL: uninterrupted $cfg on 2 ranks"; tail -5 "$d.ref/run.log"; fail=1; continue
  fi
  if [ $cfg = mala ]; then
    cp "$d/out.h5" "$d/before.h5"
    (cd "$d" && OMP_NUM_THREADS=1 $MPIRUN -np 3 "$MPFLOW" run --resume out.h5 >wrong.log 2>&1)
    rc=$?
    if [ $rc = 1 ] && grep -q 'resume it with 2' "$d/wrong.log" && cmp -s "$d/out.h5" "$d/before.h5"; then
      echo "ok: mala checkpoint of 2 ranks refused on 3 (exit 1, output untouched)"
    else
      echo "FAIL: mala checkpoint resumed on 3 ranks: exit $rc"; tail -5 "$d/wrong.log"; fail=1
    fi
  fi
  if ! (cd "$d" && OMP_NUM_THREADS=1 $MPIRUN -np $rnp "$MPFLOW" run --resume out.h5 >resume.log 2>&1); then
    echo "FAIL: $cfg resume on $rnp ranks"; tail -5 "$d/resume.log"; fail=1; continue
  fi
  if [ -e "$d/out.h5.ckpt" ]; then echo "FAIL: $cfg: checkpoint left after completion"; fail=1; fi
  if "$PY" "$CMPR" "$d.ref/out.h5" "$d/out.h5" >"$d/cmp.log" 2>&1; then
    echo "ok: $cfg SIGTERM on 2 ranks (exit 75) + resume on $rnp = uninterrupted (all but timings)"
  else
    echo "FAIL: $cfg resumed output differs"; head -8 "$d/cmp.log"; fail=1
  fi
done

# Negative control: the comparison sees a one-seed change.
rm -f "$T/svgd.seed4.h5"
OMP_NUM_THREADS=1 "$SPFLOW" run "$T/svgd.yaml" seed=4 output.path="$T/svgd.seed4.h5" >/dev/null 2>&1
if compare "$T/svgd.serial.h5" "$T/svgd.seed4.h5" >/dev/null; then
  echo "FAIL: compare() does not see a different seed"; fail=1
else
  echo "ok: compare() detects a different seed"
fi

# The ranks attribute records the rank count.
r=$(h5dump -a /ranks "$T/svgd.np3.t1.h5" 2>/dev/null | grep -c '(0): 3')
[ "$r" = 1 ] && echo "ok: ranks attribute = 3" || { echo "FAIL: ranks attribute"; fail=1; }

# Errors are agreed: a config error exits 2 on every rank with one message;
# an existing output file is refused (exit 1) without a hang.
OMP_NUM_THREADS=1 timeout 60 $MPIRUN -np 2 "$MPFLOW" run "$T/mala.yaml" \
  sampler.n_particles=1 output.path="$T/err.h5" >"$T/err.log" 2>&1
rc=$?
n=$(grep -c 'pflow: error' "$T/err.log")
if [ $rc = 2 ] && [ "$n" = 1 ] && grep -q 'n_particles' "$T/err.log" && [ ! -e "$T/err.h5" ]; then
  echo "ok: config error agreed (exit 2, one message, no file)"
else
  echo "FAIL: config error under 2 ranks: exit $rc, $n messages"; cat "$T/err.log"; fail=1
fi
OMP_NUM_THREADS=1 timeout 60 $MPIRUN -np 2 "$MPFLOW" run "$T/mala.yaml" \
  output.path="$T/mala.np2.t1.h5" >"$T/exist.log" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q 'exist' "$T/exist.log"; then
  echo "ok: existing output refused on every rank (exit 1)"
else
  echo "FAIL: existing output under 2 ranks: exit $rc"; cat "$T/exist.log"; fail=1
fi
exit $fail
