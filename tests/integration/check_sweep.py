#!/usr/bin/env python3
"""Check a sweep directory written by `pflow run ... --sweep`: the manifest
(sweep.json), the job files, and that each file's resolved config (root
attribute `config`) holds the job's swept values.

usage: check_sweep.py DIR --axis KEY=V1,V2,... [--axis ...] [--only I]
                      [--status completed] [--fixed KEY=VALUE ...]
--axis: the expected axes in flag order, values as pflow prints them.
--only I: only job I was run (array-task mode): its file exists, no other.
--fixed: a key every job's config must hold with that value.
Exit status 0 when every check passes; prints what failed otherwise.
"""
import argparse
import itertools
import json
import os
import sys

import h5py
import yaml


def fail(msg):
    print("check_sweep: " + msg, file=sys.stderr)
    sys.exit(1)


def lookup(cfg, key):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def same(found, text):
    """A config value equals the YAML text of a sweep value."""
    want = yaml.safe_load(text)
    if isinstance(want, (int, float)) and isinstance(found, (int, float)):
        return float(found) == float(want)
    return found == want


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--axis", action="append", default=[])
    ap.add_argument("--only", type=int)
    ap.add_argument("--status", default="completed")
    ap.add_argument("--fixed", action="append", default=[])
    a = ap.parse_args()

    axes = []
    for spec in a.axis:
        key, _, vals = spec.partition("=")
        axes.append((key, vals.split(",")))
    with open(os.path.join(a.dir, "sweep.json")) as f:
        man = json.load(f)
    if man.get("pflow_sweep") != 1:
        fail("manifest version %r" % man.get("pflow_sweep"))
    got_axes = [(x["key"], x["values"]) for x in man["axes"]]
    if got_axes != axes:
        fail("manifest axes %r, expected %r" % (got_axes, axes))
    # Row-major: the first flag varies slowest, like nested loops, which is
    # itertools.product's order.
    combos = list(itertools.product(*[v for _, v in axes]))
    if man["n_jobs"] != len(combos) or len(man["jobs"]) != len(combos):
        fail("n_jobs %r / %d jobs, expected %d"
             % (man["n_jobs"], len(man["jobs"]), len(combos)))
    width = max(4, len(str(len(combos) - 1)))
    for j, (job, combo) in enumerate(zip(man["jobs"], combos)):
        want = {k: v for (k, _), v in zip(axes, combo)}
        name = "job-%0*d.h5" % (width, j)
        if job["index"] != j or job["file"] != name or \
                job["overrides"] != want:
            fail("manifest job %d is %r, expected file %s overrides %r"
                 % (j, job, name, want))
    files = sorted(n for n in os.listdir(a.dir) if n.endswith(".h5"))
    expect = ["job-%0*d.h5" % (width, j) for j in range(len(combos))
              if a.only is None or j == a.only]
    if files != expect:
        fail("directory holds %r, expected %r" % (files, expect))
    if any(n.startswith("sweep.json.tmp") for n in os.listdir(a.dir)):
        fail("a temporary manifest was left behind")
    for j, combo in enumerate(combos):
        if a.only is not None and j != a.only:
            continue
        path = os.path.join(a.dir, "job-%0*d.h5" % (width, j))
        with h5py.File(path, "r") as f:
            status = f.attrs["status"]
            status = status.decode() if isinstance(status, bytes) else status
            if status != a.status:
                fail("%s: status %r, expected %r" % (path, status, a.status))
            text = f.attrs["config"]
            text = text.decode() if isinstance(text, bytes) else text
            cfg = yaml.safe_load(text)
            for (key, _), val in zip(axes, combo):
                found = lookup(cfg, key)
                if not same(found, val):
                    fail("%s: config %s = %r, expected %s"
                         % (path, key, found, val))
                if key == "seed" and int(f.attrs["seed"]) != int(val):
                    fail("%s: seed attribute %r, expected %s"
                         % (path, f.attrs["seed"], val))
            for spec in a.fixed:
                key, _, val = spec.partition("=")
                if not same(lookup(cfg, key), val):
                    fail("%s: config %s = %r, expected %s"
                         % (path, key, lookup(cfg, key), val))
            if lookup(cfg, "output.path") != path:
                fail("%s: config output.path = %r"
                     % (path, lookup(cfg, "output.path")))
    print("check_sweep: ok (%d jobs)" % len(combos))


if __name__ == "__main__":
    main()
