#!/usr/bin/env python3
"""Runs bench_shared_array with repetitions (randomly interleaved, so drift on a shared machine
hits every benchmark alike) and prints median-based ratios against the Performance goals.

  benchmarks/ratios.py [--bench build-perf/benchmarks/bench_shared_array] [--reps 7]
                       [--large-mib 2048] [--filter REGEX] [--json saved.json]
                       [--keep-json out.json]

--json reads a saved --benchmark_format=json run instead of running the binary. Standard library
only. Exit status 0 whether or not the goals are met (it reports, CI never times).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run(bench, reps, large_mib, min_time, filt):
    env = dict(os.environ)
    env.pop("SHMARRAY_BENCH_SMOKE", None)
    if large_mib:
        env["SHMARRAY_BENCH_LARGE_MIB"] = str(large_mib)
    cmd = [bench, f"--benchmark_repetitions={reps}", "--benchmark_format=json",
           "--benchmark_enable_random_interleaving=true"]
    if min_time:
        cmd.append(f"--benchmark_min_time={min_time}")
    if filt:
        cmd.append(f"--benchmark_filter={filt}")
    print("running:", " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def medians(doc):
    """Median real time (ns) of the individual repetitions, by benchmark name."""
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    runs = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = b["run_name"].replace("/manual_time", "")
        runs.setdefault(name, []).append(b["real_time"] * scale[b["time_unit"]])
    return {k: statistics.median(v) for k, v in runs.items()}, {k: len(v) for k, v in runs.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bench", default=os.path.join(here, "..", "build-perf", "benchmarks",
                                                    "bench_shared_array"))
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--large-mib", type=int, default=2048)
    ap.add_argument("--min-time", default="")
    ap.add_argument("--filter", default="", help="a --benchmark_filter regex (default: all)")
    ap.add_argument("--json", help="read this saved JSON run instead of running the binary")
    ap.add_argument("--keep-json", help="save the JSON run here")
    a = ap.parse_args()

    if a.json:
        with open(a.json) as f:
            doc = json.load(f)
    else:
        doc = run(a.bench, a.reps, a.large_mib, a.min_time, a.filter)
        if a.keep_json:
            with open(a.keep_json, "w") as f:
                json.dump(doc, f, indent=1)
    med, count = medians(doc)
    ctx = doc.get("context", {})
    print(f"host {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} cpus, load "
          f"{ctx.get('load_avg', '?')}, {max(count.values(), default=0)} repetitions (medians)")

    sizes = sorted({k.rsplit("/", 1)[1] for k in med},
                   key=lambda s: int(s[:-3]) * (1 if s.endswith("KiB") else 1024))
    small = sizes[0] if sizes else None
    rows = []

    def ratio(num, den, goal_txt, ok):
        if num not in med or den not in med:
            return
        r = med[num] / med[den]
        rows.append((f"{num} / {den}", r, goal_txt, "ok" if ok(r) else "MISSED" if goal_txt else ""))

    for s in sizes:
        # copy: how many times faster than the plain C sequence (raw / shmarray)
        goal = "speed-up >= 1.3" if s == "256MiB" else ""
        ok = (lambda r: r >= 1.3) if goal else (lambda r: True)
        ratio(f"copy/raw/{s}", f"copy/shmarray/{s}", goal, ok)
        ratio(f"copy/raw/{s}", f"copy/shmarray_1thread/{s}", "", lambda r: True)
        ratio(f"copy/raw/{s}", f"copy/proto_ftruncate/{s}", "", lambda r: True)
        # the 4 KiB path (huge_pages::off): pwrite into the file (copy) and sendfile (load) over
        # what they replaced, populate + memcpy and populate + pread
        ratio(f"copy/proto_fallocate/{s}", f"copy/shmarray_4k/{s}", "speed-up > 1", lambda r: r > 1)
        ratio(f"load/proto_pread/{s}", f"load/shmarray_4k/{s}", "speed-up > 1", lambda r: r > 1)
    for s in sizes:
        ratio(f"attach/shmarray/{s}", f"attach/raw/{s}", "<= 1.25", lambda r: r <= 1.25)
        # the floor: the system calls the checks need, made by raw C, over the bare raw attach;
        # and what the library adds on top of that floor
        ratio(f"attach/raw_checked/{s}", f"attach/raw/{s}", "", lambda r: True)
        ratio(f"attach/shmarray/{s}", f"attach/raw_checked/{s}", "", lambda r: True)
    if small:
        for s in sizes[1:]:
            ratio(f"attach/shmarray/{s}", f"attach/shmarray/{small}", "<= 1.2", lambda r: r <= 1.2)
            ratio(f"attach/raw/{s}", f"attach/raw/{small}", "", lambda r: True)
    safe_size = "8MiB" if "8MiB" in sizes else small
    for what in ("allocate", "copy", "attach"):
        ratio(f"{what}/shmarray/{safe_size}", f"{what}/shmarray_unsafe/{safe_size}", "<= 1.05",
              lambda r: r <= 1.05)
    ratio(f"attach/raw_checked/{safe_size}", f"attach/raw_header/{safe_size}", "", lambda r: True)
    ratio(f"attach/shmarray_unsafe/{safe_size}", f"attach/raw_header/{safe_size}", "",
          lambda r: True)
    for s in sizes:
        ratio(f"allocate_write/raw/{s}", f"allocate_write/shmarray/{s}", "", lambda r: True)
        ratio(f"allocate_write/raw/{s}", f"allocate_write/proto_fallocate_populate/{s}", "",
              lambda r: True)
        ratio(f"allocate/shmarray/{s}", f"allocate/raw_fallocate/{s}", "", lambda r: True)

    width = max((len(r[0]) for r in rows), default=20)
    print(f"{'ratio of median times':<{width}}  {'value':>7}  {'goal':<16} status")
    for name, r, goal, status in rows:
        print(f"{name:<{width}}  {r:7.3f}  {goal:<16} {status}")
    print("\nmedian times:")
    for k in sorted(med):
        v = med[k]
        unit = (v / 1e6, "ms") if v >= 1e6 else (v / 1e3, "us")
        print(f"  {k:<48} {unit[0]:10.3f} {unit[1]}")


if __name__ == "__main__":
    main()
