# pflow build.  `make` builds build/pflow and build/libpflow.a;
# `make deps | quickstart | test | bench`; `make SAN=1 test` for ASan+UBSan.

# `make MPI=1`: the MPI build (mpicc, Debian's parallel HDF5 hdf5-openmpi,
# -DPF_MPI) in build/mpi (build/mpi-san with SAN=1) unless BUILD is given,
# so its objects never mix with the serial build's.  The serial build
# (default) needs no MPI.
MPI ?= 0
ifeq ($(MPI),1)
ifeq ($(SAN),1)
BUILD ?= build/mpi-san
else
BUILD ?= build/mpi
endif
CC = mpicc
HDF5_PKG = hdf5-openmpi
MPI_CFLAGS = -DPF_MPI
else
HDF5_PKG = hdf5-serial
MPI_CFLAGS =
endif

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build/san
OPT ?= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
       -fno-sanitize-recover=all
LDSAN = -fsanitize=address,undefined
else
BUILD ?= build
OPT ?= -O2 -g
LDSAN =
endif

# AVX2 + FMA (x86-64-v3): the SLEEF wrappers are built for that ISA.
ARCH ?= -march=x86-64-v3

PKGS = $(HDF5_PKG) sleef yaml-0.1 openblas lapacke
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC ?= cc
CFLAGS_ALL = -std=c11 $(OPT) $(ARCH) -fopenmp -Wall -Wextra -Werror \
             -D_POSIX_C_SOURCE=200809L $(MPI_CFLAGS) -Iinclude $(PKG_CFLAGS) \
             $(CFLAGS)
LDLIBS_ALL = $(LDSAN) -rdynamic -fopenmp $(PKG_LIBS) -lhdf5_hl -lm \
             -ldl $(LDLIBS)

LIB_DIRS = core domains targets kernels samplers diagnostics io nn postsel
LIB_SRC = $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC = $(wildcard cli/*.c)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/*.c)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
DEPS = $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

.PHONY: all deps test check-long quickstart bench clean

all: $(BUILD)/pflow $(BUILD)/libpflow.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libpflow.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/pflow: $(CLI_OBJ) $(BUILD)/libpflow.a
	$(CC) $(OPT) -o $@ $(CLI_OBJ) $(BUILD)/libpflow.a $(LDLIBS_ALL)

# Example target plug-ins (include/pflow/plugin.h), loaded by the tests.
# The programs link with -rdynamic (LDLIBS_ALL) so plug-ins resolve the
# pflow API against them.
PLUGIN_EXAMPLES = $(patsubst examples/plugin_target/%.c,$(BUILD)/examples/%.so,\
                    $(wildcard examples/plugin_target/*.c))
$(BUILD)/examples/%.so: examples/plugin_target/%.c $(wildcard include/pflow/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fPIC -shared -o $@ $<

$(BUILD)/tests/runner: $(TEST_OBJ) $(BUILD)/libpflow.a | $(PLUGIN_EXAMPLES)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -o $@ $(TEST_OBJ) $(BUILD)/libpflow.a $(LDLIBS_ALL)

# The C++ reference PCG (Debian's libpcg-cpp-dev), for the bit-for-bit test.
$(BUILD)/tests/pcg_ref: tests/pcg_ref.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++14 -O2 -o $@ $<

deps:
	@sh scripts/deps.sh

# Debian's python3 (where deps installs h5py, xarray), not a pyenv shim.
PF_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

# The MPI tests (tests/mpi/run.sh, suite mpi) run the MPI build: with
# MPI=1 this tree, otherwise $(BUILD)/mpi, built here when mpicc and
# hdf5-openmpi are installed (make deps installs them; not under SAN=1).
ifeq ($(MPI),1)
MPI_PFLOW = $(BUILD)/pflow
else
MPI_PFLOW = $(BUILD)/mpi/pflow
endif

test: deps
	$(MAKE) all $(BUILD)/tests/runner $(BUILD)/tests/pcg_ref
	@if [ "$(MPI)" != 1 ] && [ "$(SAN)" != 1 ] && command -v mpicc >/dev/null \
	  && pkg-config --exists hdf5-openmpi; then \
	  $(MAKE) MPI=1 BUILD=$(BUILD)/mpi $(BUILD)/mpi/pflow; fi
	PF_MPI_PFLOW=$(MPI_PFLOW) \
	PFLOW=$(BUILD)/pflow PF_BUILD=$(BUILD) PF_PYTHON=$(PF_PYTHON) \
	  OMP_WAIT_POLICY=passive \
	  $(BUILD)/tests/runner $(TESTS)

# Long reproductions of published experiments (tests/long/*.sh); LONG=name
# selects some.
check-long: deps
	$(MAKE) all
	BUILD=$(BUILD) PF_PYTHON=$(PF_PYTHON) OMP_WAIT_POLICY=passive \
	  sh tests/long/run $(LONG)

quickstart: deps
	$(MAKE) all
	rm -f runs/quickstart.h5
	$(BUILD)/pflow run configs/quickstart.yaml output.path=runs/quickstart.h5
	$(BUILD)/pflow info runs/quickstart.h5

$(BUILD)/bench/bench_core: bench/bench_core.c $(BUILD)/libpflow.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libpflow.a $(LDLIBS_ALL)

$(BUILD)/bench/bench_pairwise: bench/bench_pairwise.c $(BUILD)/libpflow.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libpflow.a $(LDLIBS_ALL)

$(BUILD)/bench/bench_svgd: bench/bench_svgd.c $(BUILD)/libpflow.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libpflow.a $(LDLIBS_ALL)

$(BUILD)/bench/bench_svmd: bench/bench_svmd.c $(BUILD)/libpflow.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libpflow.a $(LDLIBS_ALL)

bench:
	@sh scripts/deps.sh bench
	$(MAKE) all $(BUILD)/bench/bench_core $(BUILD)/bench/bench_pairwise \
	  $(BUILD)/bench/bench_svgd $(BUILD)/bench/bench_svmd
	BUILD=$(BUILD) PF_PYTHON=$(PF_PYTHON) sh bench/run

clean:
	rm -rf build

-include $(DEPS)
