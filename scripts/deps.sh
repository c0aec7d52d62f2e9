#!/bin/sh
# Install pflow's build and test dependencies from Debian's archive when any
# is missing; do nothing when all are there.  Needs root (or sudo) only when
# something must be installed.
set -eu

# `deps.sh bench` also installs what `make bench` compares against (PyTorch
# for the reference implementations); `make test` does not need it.

PKGS="build-essential g++ pkg-config libsleef-dev libhdf5-dev hdf5-tools
libyaml-dev libopenblas-dev liblapacke-dev libpcg-cpp-dev python3
python3-h5py python3-numpy python3-xarray python3-h5netcdf python3-scipy
python3-sklearn python3-matplotlib
libopenmpi-dev openmpi-bin libhdf5-openmpi-dev"
if [ "${1:-}" = "bench" ]; then PKGS="$PKGS python3-torch"; fi

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "deps: all present"
  exit 0
fi

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps: missing packages and not root: apt-get install$missing" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
