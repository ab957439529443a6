#!/usr/bin/env python3
"""Where a MariaDB copy's time goes: the server's CPU and sheetpipe's,
against the floor's, interleaved (issue 15's benchmark).

    python3 bench/mariadb_cpu.py --new NEW/sheetpipe [--old OLD/sheetpipe]
        --work DIR [--rows 100000] [--rounds 5] [--formats csv,xlsx]
        [--workers 2] [--batch-size 2000] [--json OUT.json]

DIR holds `bench-orders-<rows>.csv` and `.xlsx`, as `sheetpipe bench
--table orders --rows N --work-dir DIR` leaves them. The script makes a
scratch database `sheetpipe_cpu_<pid>` on the local MariaDB
(root@127.0.0.1:3306, dropped at the end) with the bench's `orders` table
(the DDL of src/bench/orders.rs, MYSQL_DDL) and then, `--rounds` times,
in the order floor, NEW per format, OLD per format: `TRUNCATE TABLE
orders`, then the case as a child process, reaped with wait4. Per run:

- wall: spawn to exit;
- client CPU: user + system of the child and its reaped children (the
  `mariadb` client for the floor; sheetpipe and its isolated reader);
- server CPU: user + system of the `mariadbd` process over the run, from
  /proc/PID/stat (every server thread, the background flushing included,
  so the server must run on this machine and serve nothing else heavy).

The floor is `mariadb --local-infile=1 -e "LOAD DATA LOCAL INFILE 'csv'
INTO TABLE orders FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"'
IGNORE 1 LINES (columns)"`, as `sheetpipe bench` runs it. Every run's
count is checked (the table holds the rows). Prints the medians (and
min–max) per case as a Markdown table; --json writes every run.
"""
import argparse, json, os, statistics, subprocess, sys, time

COLUMNS = "order_id,customer,ordered_on,shipped_at,amount,quantity,weight,paid,ref,meta"
DDL = """CREATE TABLE orders (
    order_id BIGINT NOT NULL PRIMARY KEY, customer TEXT NOT NULL,
    ordered_on DATE NOT NULL, shipped_at DATETIME(6) NOT NULL,
    amount DECIMAL(12,2) NOT NULL, quantity INT NOT NULL, weight DOUBLE NOT NULL,
    paid TINYINT(1) NOT NULL, ref CHAR(36) NOT NULL, meta JSON NOT NULL,
    KEY orders_customer (customer(32)), KEY orders_ordered_on (ordered_on)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
MARIADB = ["mariadb", "-uroot", "-h127.0.0.1", "-P3306", "-N", "-B"]


def sql(statement, db=None):
    out = subprocess.run(MARIADB + ([db] if db else []) + ["-e", statement],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def server_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def run(cmd, server):
    hz = os.sysconf("SC_CLK_TCK")
    before, started = server_ticks(server), time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    server_cpu = (server_ticks(server) - before) / hz
    err = child.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return {"wall": wall, "client_cpu": usage.ru_utime + usage.ru_stime,
            "server_cpu": server_cpu}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--new", required=True)
    p.add_argument("--old")
    p.add_argument("--work", required=True)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--formats", default="csv,xlsx")
    p.add_argument("--workers", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--json")
    a = p.parse_args()
    server = int(subprocess.run(["pgrep", "-xo", "mariadbd"], check=True,
                                capture_output=True, text=True).stdout)
    db = f"sheetpipe_cpu_{os.getpid()}"
    url = f"mysql://root@127.0.0.1:3306/{db}"
    files = {f: os.path.join(a.work, f"bench-orders-{a.rows}.{f}") for f in a.formats.split(",")}
    csv = os.path.join(a.work, f"bench-orders-{a.rows}.csv")
    floor = MARIADB + ["--local-infile=1", db, "-e",
                       f"LOAD DATA LOCAL INFILE '{csv}' INTO TABLE orders FIELDS TERMINATED "
                       f"BY ',' OPTIONALLY ENCLOSED BY '\"' IGNORE 1 LINES ({COLUMNS})"]
    cases = [("floor", "csv", floor)]
    for name, binary in (("new", a.new), ("old", a.old)):
        if not binary:
            continue
        for fmt, path in files.items():
            cmd = [binary, "import", path, "--table", "orders", "--method", "copy",
                   "--json", "--allow-reimport", "--database-url", url]
            if a.workers:
                cmd += ["--workers", str(a.workers)]
            if a.batch_size:
                cmd += ["--batch-size", str(a.batch_size)]
            cases.append((name, fmt, cmd))
    sql(f"DROP DATABASE IF EXISTS {db}")
    sql(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
    runs = []
    try:
        sql(DDL, db)
        for r in range(a.rounds):
            for name, fmt, cmd in cases:
                sql("TRUNCATE TABLE orders", db)
                m = run(cmd, server)
                count = int(sql("SELECT COUNT(*) FROM orders", db))
                if count != a.rows:
                    sys.exit(f"{name} {fmt}: {count} rows stored, not {a.rows}")
                m.update(case=name, format=fmt, round=r)
                runs.append(m)
                print(f"round {r + 1} {name} {fmt}: wall {m['wall']:.2f} s, server "
                      f"{m['server_cpu']:.2f} s, client {m['client_cpu']:.2f} s",
                      file=sys.stderr)
    finally:
        sql(f"DROP DATABASE IF EXISTS {db}")
    print(f"{a.rows} rows, {a.rounds} rounds; medians (min–max)\n")
    print("| case | format | wall | server CPU | client CPU | server + client |")
    print("|---|---|---|---|---|---|")
    for name, fmt, _ in cases:
        mine = [m for m in runs if m["case"] == name and m["format"] == fmt]
        for m in mine:
            m["total_cpu"] = m["server_cpu"] + m["client_cpu"]
        cells = []
        for key in ("wall", "server_cpu", "client_cpu", "total_cpu"):
            v = [m[key] for m in mine]
            cells.append(f"{statistics.median(v):.2f} s ({min(v):.2f}–{max(v):.2f})")
        print(f"| {name} | {fmt} | " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
