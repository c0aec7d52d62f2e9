#!/bin/sh
# Strong scaling over MPI ranks (issue 10): one SVGD step at n = 20 000,
# d = 10 (replicated particles, pairwise rows split, all-gather of the
# phi rows) and MALA chains (sharded; only the acceptance mean and the
# counts cross ranks), 1, 2, 4 ranks with one OpenMP thread each.  This
# machine has 2 cores: 4 ranks are oversubscribed.  Each figure is the min
# over REPEATS runs of (wall time of the sampling loop) / iterations, and
# rank 0's time inside MPI calls (comm_seconds attribute) per iteration.
# A failed run stops the script with its log and exit code 1.
# usage: BUILD=build/mpi sh bench/mpi_scaling.sh   (needs `make MPI=1`)
set -u
B=${BUILD:-build/mpi}
P=$B/pflow
T=${TMPDIR:-/tmp}/pflow-mpi-bench.$$
REPEATS=${REPEATS:-3}
RANKS=${RANKS:-1 2 4}
die() { echo "mpi_scaling: $*" >&2; exit 1; }
[ -x "$P" ] || die "no MPI build at $P (make MPI=1 BUILD=$B)"
for tool in mpirun /usr/bin/python3; do
  command -v $tool >/dev/null 2>&1 || die "$tool not found"
done
mkdir -p "$T" || die "cannot create $T"
echo "# $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
MPIRUN="mpirun --oversubscribe --allow-run-as-root --bind-to none"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
cat > "$T/svgd.yaml" <<'YAML'
seed: 1
target: {name: gaussian, dim: 10, mean: [0.5]}
sampler: {name: svgd, n_particles: 20000, n_iter: 2, step_size: 0.05, kernel: {name: rbf, bandwidth: 1.0}}
output: {trajectory_every: 0}
YAML
cat > "$T/mala.yaml" <<'YAML'
seed: 1
target: {name: gaussian, dim: 10, mean: [0.5]}
sampler: {name: mala, n_particles: 100000, n_iter: 40, step_size: 0.5}
output: {trajectory_every: 0, draws: final}
YAML
read_attr() { # file attribute -> value
  /usr/bin/python3 -c "import h5py,sys; print(float(h5py.File(sys.argv[1],'r').attrs.get(sys.argv[2], 0.0)))" "$1" "$2" ||
    die "cannot read attribute $2 of $1"
}
printf '%-6s %5s %14s %14s %9s\n' sampler ranks "s/iter (min)" "comm s/iter" speedup
for s in svgd mala; do
  it=$(awk '/n_iter/ {sub(/.*n_iter: */, ""); sub(/,.*/, ""); print}' "$T/$s.yaml")
  base=""
  for np in $RANKS; do
    best=""; bestc=""
    r=0
    while [ $r -lt "$REPEATS" ]; do
      rm -f "$T/o.h5"
      if ! $MPIRUN -np $np "$P" run "$T/$s.yaml" output.path="$T/o.h5" >"$T/run.log" 2>&1; then
        tail -20 "$T/run.log" >&2
        die "$s on $np ranks failed (log above)"
      fi
      w=$(read_attr "$T/o.h5" wall_time) || exit 1
      c=$(read_attr "$T/o.h5" comm_seconds) || exit 1
      if [ -z "$best" ] || awk "BEGIN{exit !($w < $best)}"; then best=$w; bestc=$c; fi
      r=$((r + 1))
    done
    [ -n "$base" ] || base=$best
    awk -v s=$s -v np=$np -v w=$best -v c=$bestc -v it=$it -v b=$base \
      'BEGIN{printf "%-6s %5d %14.4f %14.4f %9.2f%s\n", s, np, w/it, c/it, b/w, (np > 2 ? "  (oversubscribed: 2 cores)" : "")}'
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$T"
