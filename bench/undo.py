#!/usr/bin/env python3
"""Issue 14's undo benchmark: what undo's bookkeeping adds to an append,
and how long the undo of that append takes against the import itself.

    python3 bench/undo.py --before BIN_WITHOUT_UNDO --after BIN_WITH_UNDO
        [--rows 1000000] [--pairs 3] [--backends postgres,sqlite,mysql]

`--before` is a sheetpipe built from a commit before undo existed (no
bookkeeping), `--after` one with it, both with the same build flags. For
each backend and pair, interleaved (before, after, after, before, …, so
the machine's noise falls on both alike), each binary imports the same
generated .csv of the businesses table with `--method copy` (or
`--method M`) into a fresh
database (PostgreSQL and MariaDB: a scratch database per run, dropped;
SQLite: a fresh file), and the wall time is taken; then the `after` import is undone with
`sheetpipe undo ID` and that is timed too. Every run checks its counts
(every row inserted; after the undo, none left). Prints one JSON object
with the median of each and the ratios, and the imports' own CPU time
(user + system of the sheetpipe process; the database server's is not in
it on PostgreSQL, while SQLite's work runs inside sheetpipe); slowness never fails, a wrong
count does (exit 1).
"""
import argparse, json, os, resource, shutil, statistics, subprocess, sys, tempfile, time

PG = "postgres://postgres@127.0.0.1:5432"
MY = "mysql://root@127.0.0.1:3306"


def mariadb(sql, db=""):
    out = subprocess.run(["mariadb", "-uroot", "-h127.0.0.1", "-P3306", "-N", "-B", "-e", sql]
                         + ([db] if db else []), check=True, capture_output=True, text=True)
    return out.stdout.strip()


def psql(db, sql):
    out = subprocess.run(["psql", "-X", "-qAt", f"{PG}/{db}", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def fresh(backend, work, tag):
    if backend == "postgres":
        db = f"sheetpipe_undo_bench_{os.getpid()}_{tag}"
        psql("postgres", f"DROP DATABASE IF EXISTS {db}")
        psql("postgres", f"CREATE DATABASE {db}")
        return f"{PG}/{db}", lambda: psql("postgres", f"DROP DATABASE IF EXISTS {db}")
    if backend == "mysql":
        db = f"sheetpipe_undo_bench_{os.getpid()}_{tag}"
        mariadb(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}")
        return f"{MY}/{db}", lambda: mariadb(f"DROP DATABASE IF EXISTS {db}")
    path = os.path.join(work, f"{tag}.db")
    for p in (path, path + "-wal", path + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    return f"sqlite://{path}", lambda: None


def count(backend, url):
    if backend == "postgres":
        return int(psql(url.rsplit("/", 1)[1], "SELECT count(*) FROM businesses"))
    if backend == "mysql":
        return int(mariadb("SELECT count(*) FROM businesses", url.rsplit("/", 1)[1]))
    import sqlite3
    with sqlite3.connect(url[len("sqlite://"):]) as c:
        return c.execute("SELECT count(*) FROM businesses").fetchone()[0]


CPU = []  # the CPU seconds (user + system) of the last timed process


def cpu_of_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, cwd):
    t, c = time.perf_counter(), cpu_of_children()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - t
    CPU[:] = [cpu_of_children() - c]
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
    return took, out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--backends", default="postgres,sqlite")
    ap.add_argument("--method", default="copy")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sheetpipe-undo-bench-")
    data = os.path.join(work, "bench.csv")
    subprocess.run([a.after, "generate", data, "--rows", str(a.rows)], check=True,
                   capture_output=True)
    result = {"rows": a.rows, "pairs": a.pairs, "method": a.method, "backends": {}}
    try:
        for backend in a.backends.split(","):
            times = {"before": [], "after": [], "undo": []}
            cpu = {"before": [], "after": []}
            order = []
            for i in range(a.pairs):
                order += ["before", "after"] if i % 2 == 0 else ["after", "before"]
            for n, which in enumerate(order):
                url, drop = fresh(backend, work, f"{backend}_{n}")
                try:
                    binary = a.before if which == "before" else a.after
                    took, out = timed([binary, "import", data, "--database-url", url,
                                       "--method", a.method, "--json"], work)
                    report = json.loads(out)
                    if count(backend, url) != a.rows or report["stats"]["success_count"] != a.rows:
                        sys.exit(f"{backend} {which}: not every row was inserted")
                    times[which].append(took)
                    cpu[which].append(CPU[0])
                    if which == "after":
                        took, out = timed([a.after, "undo", report["import_id"],
                                           "--database-url", url, "--json"], work)
                        if json.loads(out)["deleted"] != a.rows or count(backend, url) != 0:
                            sys.exit(f"{backend}: the undo did not delete every row")
                        times["undo"].append(took)
                finally:
                    drop()
            med = {k: statistics.median(v) for k, v in times.items()}
            result["backends"][backend] = {
                "import_before_s": round(med["before"], 2),
                "import_after_s": round(med["after"], 2),
                "undo_s": round(med["undo"], 2),
                "bookkeeping_ratio": round(med["after"] / med["before"], 3),
                "undo_vs_import": round(med["undo"] / med["after"], 3),
                "runs": {k: [round(x, 2) for x in v] for k, v in times.items()},
                "sheetpipe_cpu_s": {k: [round(x, 2) for x in v] for k, v in cpu.items()},
                "cpu_ratio": round(statistics.median(cpu["after"])
                                   / statistics.median(cpu["before"]), 3),
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
