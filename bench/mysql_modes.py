#!/usr/bin/env python3
"""Issue 15 item 3's measurement: the re-import modes on MariaDB/MySQL
against a plain append of the same rows, in the same run.

    python3 bench/mysql_modes.py [--bin target/debug/sheetpipe] [--rows 100000]
        [--runs 2] [--server mysql://root@127.0.0.1:3306]

One CSV of ROWS rows (code, name, qty, note) into `items (code VARCHAR(20)
PRIMARY KEY, name TEXT NOT NULL, qty INT, note TEXT)` of a scratch
database (`sheetpipe_modes_<pid>`, dropped at the end), `--method copy`
with the defaults. Per run, each on a table prepared by SQL first:

- append: into the empty table (the reference);
- upsert: the table holds every other key (half the file), half of those
  with the file's values (unchanged) and half with others;
- skip-existing: the same half stored;
- replace: the table holds ROWS other rows.

The time is the import's own `stats.duration_ms` (JSON). Every import's
counts are checked (a wrong count exits 1; slowness never fails). Prints
one JSON object: the medians and their ratios to append.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile


def mariadb(server, db, sql):
    host = server.split("://", 1)[1]
    user, hostport = host.split("@", 1)
    h, _, port = hostport.partition(":")
    args = ["mariadb", "-u", user, "-h", h, "-P", port or "3306", "-N", "-B"]
    if db:
        args.append(db)
    return subprocess.run(args, input=sql, check=True, capture_output=True, text=True).stdout


def prepare(server, db, rows, state):
    sql = ["TRUNCATE TABLE items;"]
    if state == "half":
        values = []
        for i in range(0, rows, 2):
            name = f"name{i}" if i % 4 == 0 else "old"
            values.append(f"('k{i:07d}', '{name}', {i})")
        for s in range(0, len(values), 5000):
            sql.append("INSERT INTO items (code, name, qty) VALUES " + ", ".join(values[s:s + 5000]) + ";")
    elif state == "other":
        values = [f"('o{i:07d}', 'other', {i})" for i in range(rows)]
        for s in range(0, len(values), 5000):
            sql.append("INSERT INTO items (code, name, qty) VALUES " + ", ".join(values[s:s + 5000]) + ";")
    mariadb(server, db, "\n".join(sql))


def run(binary, csv, url, mode):
    args = [binary, "import", csv, "--database-url", url, "--table", "items",
            "--method", "copy", "--allow-reimport", "--json"]
    if mode != "append":
        args += ["--mode", mode]
    out = subprocess.run(args, capture_output=True, text=True)
    v = json.loads(out.stdout)
    s = v["stats"]
    return s["duration_ms"], (s["inserted"], s["updated"], s["skipped"], s["error_count"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="target/debug/sheetpipe")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--server", default="mysql://root@127.0.0.1:3306")
    a = p.parse_args()
    db = f"sheetpipe_modes_{os.getpid()}"
    mariadb(a.server, None, f"CREATE DATABASE {db} CHARACTER SET utf8mb4;")
    url = f"{a.server}/{db}"
    half = a.rows // 2
    want = {
        "append": ("empty", (a.rows, 0, 0, 0)),
        "upsert": ("half", (a.rows - half, half, 0, 0)),
        "skip-existing": ("half", (a.rows - half, 0, half, 0)),
        "replace": ("other", (a.rows, 0, 0, 0)),
    }
    times = {m: [] for m in want}
    bad = []
    try:
        mariadb(a.server, db, "CREATE TABLE items (code VARCHAR(20) PRIMARY KEY, name TEXT NOT NULL, "
                "qty INT, note TEXT) ENGINE=InnoDB COLLATE=utf8mb4_bin;")
        with tempfile.TemporaryDirectory() as tmp:
            csv = os.path.join(tmp, "items.csv")
            with open(csv, "w") as f:
                f.write("code,name,qty,note\n")
                for i in range(a.rows):
                    f.write(f"k{i:07d},name{i},{i},\n")
            for _ in range(a.runs):
                for mode, (state, counts) in want.items():
                    prepare(a.server, db, a.rows, state)
                    ms, got = run(a.bin, csv, url, mode)
                    if got != counts:
                        bad.append({"mode": mode, "want": counts, "got": got})
                    times[mode].append(ms)
    finally:
        mariadb(a.server, None, f"DROP DATABASE IF EXISTS {db};")
    med = {m: statistics.median(t) for m, t in times.items()}
    print(json.dumps({
        "rows": a.rows, "runs": a.runs, "binary": a.bin,
        "median_ms": med, "all_ms": times,
        "ratio_to_append": {m: round(med[m] / med["append"], 2) for m in med},
        "wrong_counts": bad,
    }, indent=1))
    sys.exit(1 if bad else 0)


main()
