#!/bin/sh
# The grid9 check of tests/long/pathspace_grid9.sh (same thresholds: LV
# |log Z_hat| <= 0.1, ESS >= 0.8, all 9 modes holding >= 5% of the weight;
# KL with the same budget collapsed or worse) on the dis configs: the
# time-reversed diffusion from N(0, I) whose initial control is the
# interpolated score (configs/dis_grid9_{lv,kl}.yaml).
PS_SAMPLER=dis exec sh tests/long/pathspace_grid9.sh
