#!/usr/bin/env python3
"""Two sheetpipe binaries on the businesses import, interleaved: did the
newer one get slower? (Issue 11: "the business table's figures regress by
no more than 5%".)

    python3 bench/regression.py --old OLD/sheetpipe --new NEW/sheetpipe
        [--rows 100000[,1000000]] [--pairs 7] [--formats xlsx,csv]
        [--method copy] [--dry-run] [--work DIR] [--json OUT.json]

For each row count the .xlsx and the .csv of the same rows are generated
once (`NEW generate FILE --rows N`: seed 42, no invalid rows) and both
binaries import the same files. A scratch database
`sheetpipe_regress_<pid>` (dropped at the end) gets the tutorial's table
from OLD's own first import; NEW's first import then meets it. Before
anything is timed the script checks that both binaries make the same
`businesses` table (`pg_dump -s` of a table each made in its own scratch
database) and store the same rows (a digest of every stored field, rows
sorted, after one untimed import by each).

Then `--pairs` times, per format, one run of each binary in the order
old, new, new, old, old, new, … (ABBA: neither binary always goes first).
Every run: `TRUNCATE businesses RESTART IDENTITY` and `CHECKPOINT` (as
`sheetpipe bench` does), then `BIN import FILE --method M --json
--database-url URL` (and `--allow-reimport` when BIN has it: every run
imports the same file) as a child process, waited for with wait4, which
gives the wall time from spawn to exit and the CPU time (user + system) of
the import and of its reaped children (the isolated reader, `sheetpipe
__read`). The counts are checked every run: the JSON's total_records and
success_count equal the rows, error_count is 0, the table holds the rows.
With --dry-run, `import FILE --dry-run` (read and validate, nothing
written) is measured the same way as its own case.

The result per case: each binary's median wall and CPU time, and the
median of the pairs' own ratios new/old with its spread (min, quartiles,
max) and how many pairs had new slower. Printed as a Markdown table;
--json writes every run. Slowness never fails; a wrong count, a failed
import or two binaries storing different rows does (exit 1).
"""
import argparse, functools, json, os, shutil, statistics, subprocess, sys, tempfile, time

PG = "postgres://postgres@127.0.0.1:5432"
FIELDS = "name, category, phone, email, address, city, country, website, description"


def psql(db, sql):
    out = subprocess.run(["psql", "-X", "-qAt", f"{PG}/{db}", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


@functools.lru_cache(maxsize=None)
def has_flag(bin_, flag):
    out = subprocess.run([bin_, "import", "--help"], capture_output=True, text=True)
    return flag in out.stdout


def run_child(argv):
    """Runs argv; returns (exit status, wall s, cpu s, maxrss KiB, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - started
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (p.returncode, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss,
                out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def import_argv(bin_, file, db, method, dry_run):
    argv = [bin_, "import", file, "--method", method, "--json",
            "--database-url", f"{PG}/{db}"]
    if has_flag(bin_, "--allow-reimport"):
        argv.append("--allow-reimport")
    if dry_run:
        argv.append("--dry-run")
    return argv


def reset(db):
    """Empties the table (the first import of a scratch database creates it)."""
    if psql(db, "SELECT to_regclass('businesses') IS NOT NULL") == "t":
        psql(db, "TRUNCATE businesses RESTART IDENTITY")
    psql(db, "CHECKPOINT")


def one_run(bin_, file, db, rows, method, dry_run):
    reset(db)
    load = os.getloadavg()[0]
    code, wall, cpu, rss, out, err = run_child(import_argv(bin_, file, db, method, dry_run))
    if code != 0:
        raise SystemExit(f"{bin_} import {file} exited {code}: {err.strip()}")
    stats = json.loads(out)["stats"]
    counts = (stats["total_records"], stats["success_count"], stats["error_count"])
    stored = int(psql(db, "SELECT count(*) FROM businesses"))
    want_stored = 0 if dry_run else rows
    if counts != (rows, rows, 0) or stored != want_stored:
        raise SystemExit(f"{bin_} {file}: counts {counts}, table {stored} (want {rows})")
    return {"wall_s": wall, "cpu_s": cpu, "maxrss_kib": rss, "load1": load}


def digest(db):
    # Sorted by content, not id: two writers commit units in either order.
    row = f"concat_ws('|', {FIELDS})"
    return psql(db, f"SELECT count(*) || ' ' || md5(string_agg({row}, E'\\n' ORDER BY {row})) "
                    "FROM businesses")


def same_table(args, csv, rows):
    """pg_dump -s of the businesses table each binary creates on its own."""
    dumps = []
    for name, bin_ in (("old", args.old), ("new", args.new)):
        db = f"sheetpipe_regress_{os.getpid()}_{name}"
        psql("postgres", f"DROP DATABASE IF EXISTS {db}")
        psql("postgres", f"CREATE DATABASE {db}")
        try:
            one_run(bin_, csv, db, rows, args.method, False)
            dump = subprocess.run(["pg_dump", "-s", "-t", "businesses", f"{PG}/{db}"],
                                  check=True, capture_output=True, text=True).stdout
            dumps.append([l for l in dump.splitlines()
                          if l and not l.startswith(("--", "\\restrict", "\\unrestrict"))])
        finally:
            psql("postgres", f"DROP DATABASE IF EXISTS {db}")
    if dumps[0] != dumps[1]:
        raise SystemExit("the two binaries create different businesses tables")


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def summarize(runs):
    old = [r["old"] for r in runs]
    new = [r["new"] for r in runs]
    out = {}
    for k in ("wall_s", "cpu_s"):
        ratios = [n[k] / o[k] for o, n in zip(old, new)]
        q1, q3 = quartiles(ratios)
        out[k] = {
            "old_median": statistics.median(o[k] for o in old),
            "new_median": statistics.median(n[k] for n in new),
            "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios), "ratio_q1": q1, "ratio_q3": q3,
            "ratio_max": max(ratios),
            "pairs_new_slower": sum(r > 1 for r in ratios),
            "pairs": len(ratios),
        }
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--rows", default="100000")
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--formats", default="xlsx,csv")
    ap.add_argument("--method", default="copy")
    ap.add_argument("--dry-run", action="store_true",
                    help="also measure import --dry-run (reader and validation only)")
    ap.add_argument("--work", help="keep the generated files here")
    ap.add_argument("--json", help="write every run and the summary to this file")
    args = ap.parse_args()
    args.old, args.new = os.path.abspath(args.old), os.path.abspath(args.new)
    work = args.work or tempfile.mkdtemp(prefix="sheetpipe-regress-")
    os.makedirs(work, exist_ok=True)
    db = f"sheetpipe_regress_{os.getpid()}"
    result = {"old": args.old, "new": args.new, "method": args.method,
              "pairs": args.pairs, "cores": os.cpu_count(), "blocks": []}
    try:
        small = os.path.join(work, "regress-schema.csv")
        subprocess.run([args.new, "generate", small, "--rows", "1000"],
                       check=True, capture_output=True)
        same_table(args, small, 1000)
        for rows in [int(r) for r in args.rows.split(",")]:
            files = {}
            for fmt in args.formats.split(","):
                files[fmt] = os.path.join(work, f"regress-{rows}.{fmt}")
                if not os.path.exists(files[fmt]):
                    subprocess.run([args.new, "generate", files[fmt], "--rows", str(rows)],
                                   check=True, capture_output=True)
            psql("postgres", f"DROP DATABASE IF EXISTS {db}")
            psql("postgres", f"CREATE DATABASE {db}")
            cases = [(fmt, False) for fmt in files]
            if args.dry_run:
                cases += [(fmt, True) for fmt in files]
            block = {"rows": rows, "cases": []}
            for fmt, dry in cases:
                if dry:
                    continue
                # Untimed: each binary once (OLD first creates the table),
                # the stored rows compared; warms the page cache.
                got = []
                for bin_ in (args.old, args.new):
                    one_run(bin_, files[fmt], db, rows, args.method, False)
                    got.append(digest(db))
                if got[0] != got[1]:
                    raise SystemExit(f"{fmt}: old and new stored different rows: {got}")
                print(f"{rows} rows {fmt}: both store the same rows ({got[0]})", file=sys.stderr)
            runs = {c: [] for c in cases}
            for i in range(args.pairs):
                order = ("old", "new") if i % 2 == 0 else ("new", "old")
                for fmt, dry in cases:
                    pair = {}
                    for side in order:
                        bin_ = args.old if side == "old" else args.new
                        pair[side] = one_run(bin_, files[fmt], db, rows, args.method, dry)
                    runs[(fmt, dry)].append(pair)
                    label = f"{fmt}{' dry-run' if dry else ''}"
                    print(f"{rows} rows {label} pair {i + 1}: "
                          + ", ".join(f"{s} {pair[s]['wall_s']:.3f} s wall "
                                      f"{pair[s]['cpu_s']:.3f} s cpu" for s in order)
                          + f" (load {pair[order[0]]['load1']:.1f})", file=sys.stderr)
            for (fmt, dry), rs in runs.items():
                block["cases"].append({"format": fmt, "dry_run": dry,
                                       "summary": summarize(rs), "runs": rs})
            result["blocks"].append(block)
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {db}")
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print("| rows | input | old wall | new wall | wall new/old (median of pairs; min–max) "
          "| old CPU | new CPU | CPU new/old (median of pairs; min–max) | pairs new slower (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for b in result["blocks"]:
        for c in b["cases"]:
            w, u = c["summary"]["wall_s"], c["summary"]["cpu_s"]
            label = c["format"] + (" `--dry-run`" if c["dry_run"] else "")
            print(f"| {b['rows']:,} | {label} | {w['old_median']:.3f} s | {w['new_median']:.3f} s "
                  f"| **{w['ratio_median']:.3f}** ({w['ratio_min']:.3f}–{w['ratio_max']:.3f}) "
                  f"| {u['old_median']:.3f} s | {u['new_median']:.3f} s "
                  f"| **{u['ratio_median']:.3f}** ({u['ratio_min']:.3f}–{u['ratio_max']:.3f}) "
                  f"| {u['pairs_new_slower']} of {u['pairs']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
