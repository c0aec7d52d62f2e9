#!/bin/sh
# The grid9 check of tests/long/pathspace_grid9.sh (same thresholds: LV
# |log Z_hat| <= 0.1, ESS >= 0.6, all 9 modes holding >= 5% of the weight
# and of the draws; KL with the same budget: ESS >= 0.2 lower and its draws
# unbalanced or collapsed) on the dis configs: the
# time-reversed diffusion from N(0, I) whose initial control is the
# interpolated score (configs/dis_grid9_{lv,kl}.yaml).
PS_SAMPLER=dis exec sh tests/long/pathspace_grid9.sh
