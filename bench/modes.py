#!/usr/bin/env python3
"""Issue 14's benchmark: the re-import modes against the copy append of the
same rows ("upsert of 1M rows of which half the keys exist <= 2.0x the copy
append").

    SHEETPIPE=target/release/sheetpipe N=1000000 RUNS=3 python3 bench/modes.py

Environment: SHEETPIPE (the binary; default target/release/sheetpipe), N
(rows; default 1,000,000, N=100000 for a quick run), RUNS (default 3),
BACKEND (postgres, the default, on 127.0.0.1:5432 as user postgres; or
sqlite), KEEP (set: keep the scratch database and file).

The file is generated once: a CSV of N rows (k, name, qty, note) for the
table bench_modes (k bigint primary key, name text not null, qty integer
not null, note text). Each run measures, in an order rotated from run to
run (so the machine's noise falls on every scenario alike):

- append: `--method copy` into the emptied table (the reference);
- upsert: `--mode upsert` into the table holding every other key (N/2 rows
  with old values), so half the file's keys exist and half are new;
- skip-existing: the same, `--mode skip-existing`;
- replace: the same, `--mode replace`.

The table is emptied and prefilled (by SQL, not timed) before each import;
on PostgreSQL a CHECKPOINT and VACUUM (ANALYZE) follow the prefill. The
time is the wall clock of the `sheetpipe import --json` process. Every
import's counts are checked from its JSON (inserted/updated/skipped, no
rejects) and against the table (N rows, every value the file's); a wrong
count fails the run (exit 1), slowness never does. Prints a table of the
medians with each mode's ratio to the append of the same run, then one JSON
object.
"""
import json, os, shutil, sqlite3, statistics, subprocess, sys, tempfile, time

PG = "postgres://postgres@127.0.0.1:5432"
BIN = os.environ.get("SHEETPIPE", "target/release/sheetpipe")
N = int(os.environ.get("N", "1000000"))
RUNS = int(os.environ.get("RUNS", "3"))
BACKEND = os.environ.get("BACKEND", "postgres")
MODES = ["append", "upsert", "skip-existing", "replace"]
TABLE = ("CREATE TABLE bench_modes (k bigint PRIMARY KEY, name text NOT NULL, "
         "qty integer NOT NULL, note text)")


def psql(db, sql):
    out = subprocess.run(["psql", "-X", "-qAt", f"{PG}/{db}", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Db:
    def __init__(self, work):
        self.name = f"sheetpipe_modes_{os.getpid()}"
        if BACKEND == "postgres":
            psql("postgres", f"DROP DATABASE IF EXISTS {self.name}")
            psql("postgres", f"CREATE DATABASE {self.name}")
            self.url = f"{PG}/{self.name}"
        else:
            self.path = os.path.join(work, "modes.db")
            self.url = f"sqlite://{self.path}"
        self.sql(TABLE)

    def sql(self, sql):
        if BACKEND == "postgres":
            return psql(self.name, sql)
        with sqlite3.connect(self.path) as c:
            rows = c.execute(sql).fetchall()
        return "\n".join("|".join(str(v) for v in r) for r in rows)

    def reset(self, half):
        """Empties the table; with `half`, every other key with old values."""
        self.sql("DELETE FROM bench_modes")
        if half:
            if BACKEND == "postgres":
                self.sql("INSERT INTO bench_modes SELECT g, 'old ' || g, 0, 'old' "
                         f"FROM generate_series(0, {N - 1}, 2) g")
            else:
                self.sql(f"WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 2 FROM s "
                         f"WHERE g + 2 < {N}) INSERT INTO bench_modes "
                         "SELECT g, 'old ' || g, 0, 'old' FROM s")
        if BACKEND == "postgres":
            self.sql("VACUUM (ANALYZE) bench_modes")
            self.sql("CHECKPOINT")

    def drop(self):
        if BACKEND == "postgres":
            psql("postgres", f"DROP DATABASE IF EXISTS {self.name}")


def generate(work):
    path = os.path.join(work, "modes.csv")
    with open(path, "w") as f:
        f.write("k,name,qty,note\n")
        for k in range(N):
            f.write(f"{k},name {k},{k % 1000},note {k}\n")
    return path


def expected(mode):
    half_new = N - (N + 1) // 2  # odd keys: new; even keys: stored
    stored = (N + 1) // 2
    return {
        "append": (N, 0, 0),
        "upsert": (half_new, stored, 0),
        "skip-existing": (half_new, 0, stored),
        "replace": (N, 0, 0),
    }[mode]


def run_import(db, file, mode):
    db.reset(half=mode != "append")
    args = [BIN, "import", file, "--database-url", db.url, "--table", "bench_modes",
            "--method", "copy", "--json"]
    args += ["--allow-reimport"] if mode == "append" else ["--mode", mode]
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True)
    secs = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{mode}: exit {out.returncode}: {out.stderr[-2000:]}")
    stats = json.loads(out.stdout)["stats"]
    got = (stats["inserted"], stats["updated"], stats["skipped"])
    problems = []
    if got != expected(mode) or stats["error_count"] != 0:
        problems.append(f"counts {got}, {stats['error_count']} rejected; "
                        f"expected {expected(mode)}, 0")
    rows = int(db.sql("SELECT count(*) FROM bench_modes"))
    want_new = N if mode != "skip-existing" else N - (N + 1) // 2
    new = int(db.sql("SELECT count(*) FROM bench_modes WHERE name = 'name ' || k"))
    if rows != N or new != want_new:
        problems.append(f"table: {rows} rows, {new} with the file's values; "
                        f"expected {N}, {want_new}")
    if problems:
        print(f"{mode}: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)
    return secs


def main():
    work = tempfile.mkdtemp(prefix="sheetpipe-modes-")
    t0 = time.perf_counter()
    file = generate(work)
    gen = time.perf_counter() - t0
    db = Db(work)
    times = {m: [] for m in MODES}
    ratios = {m: [] for m in MODES}
    try:
        for r in range(RUNS):
            order = MODES[r % len(MODES):] + MODES[:r % len(MODES)]
            this = {}
            for mode in order:
                this[mode] = run_import(db, file, mode)
                print(f"run {r + 1} {mode}: {this[mode]:.2f} s", file=sys.stderr)
            for mode in MODES:
                times[mode].append(this[mode])
                ratios[mode].append(this[mode] / this["append"])
    finally:
        if not os.environ.get("KEEP"):
            db.drop()
            shutil.rmtree(work, ignore_errors=True)
    print(f"{N} rows, {BACKEND}, {RUNS} runs, binary {BIN} (file generated in {gen:.1f} s)")
    print(f"{'mode':<14} {'median s':>9} {'x append (median of runs)':>26}  per run")
    for mode in MODES:
        med = statistics.median(times[mode])
        print(f"{mode:<14} {med:>9.2f} {statistics.median(ratios[mode]):>26.2f}  "
              + ", ".join(f"{x:.2f}" for x in ratios[mode]))
    print(json.dumps({
        "rows": N, "backend": BACKEND, "runs": RUNS, "binary": BIN,
        "seconds": times,
        "ratio_to_append": {m: statistics.median(ratios[m]) for m in MODES},
        "ratio_per_run": ratios,
        "counts_checked": True,
    }))


if __name__ == "__main__":
    main()
