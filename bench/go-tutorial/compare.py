#!/usr/bin/env python3
"""sheetpipe against our rebuild of the Go tutorial's design, same run, interleaved.

Usage (from the repository root, after `cargo build --release` and
`bench/go-tutorial/run.sh build`):

    python3 bench/go-tutorial/compare.py [--rows 10000] [--runs 7] [--warmup 1]
        [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--json OUT]

What it does:
  1. generates FILE.xlsx with `sheetpipe generate --rows N` (no bad rows);
  2. creates a scratch database goref_bench_<pid> on that server; the table
     and its six indexes are made by sheetpipe's schema (a first import); the
     Go program's AutoMigrate finds them (same index names) and adds nothing —
     checked below; the database is dropped at the end;
  3. starts both services (Go: Gin on a free port; sheetpipe serve on
     127.0.0.1:0), then for every round, in an order rotated by one per round:
       cli  go   batch   business-importer -import FILE -method batch   (whole process)
       cli  sp   batch   sheetpipe import FILE --method batch --json     (whole process)
       cli  sp   copy    sheetpipe import FILE --method copy --json      (whole process)
       http go   batch   POST /upload?method=batch to the Go service     (curl time_total)
       http sp   batch   POST /upload?method=batch to sheetpipe serve
       http sp   copy    POST /upload?method=copy  to sheetpipe serve
       parse go          business-importer -parse-only FILE              (whole process)
       parse sp          sheetpipe import FILE --dry-run --json          (whole process)
     each import into a table emptied by TRUNCATE … RESTART IDENTITY and a
     CHECKPOINT first; after each, the answer's counts and the table's row
     count must both be N (else the script stops);
  4. prints medians (and min–max) and each line's ratio to the Go line of
     the same kind — of the medians (judged against issue 4's targets,
     batch ≤ ½, copy ≤ ⅕), the median of each round's own ratio, and of the
     fastest runs — and Go's whole-process time by phase.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CASES = [("cli", "go", "batch"), ("cli", "sp", "batch"), ("cli", "sp", "copy"),
         ("http", "go", "batch"), ("http", "sp", "batch"), ("http", "sp", "copy"),
         ("parse", "go", "-"), ("parse", "sp", "-")]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGETS = {"batch": 0.5, "copy": 0.2}


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def psql(url, sql):
    out = sh(["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
    return out.stdout.strip()


def with_db(url, db):
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] if base.count("/") > 2 else base
    return f"{base}/{db}" + (f"?{query}" if query else "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drain(stream):
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()


def check_counts(stats, rows, what):
    got = (stats["total_records"], stats["success_count"], stats["error_count"])
    if got != (rows, rows, 0):
        sys.exit(f"{what}: answer counts {got}, expected ({rows}, {rows}, 0)")


class Bench:
    def __init__(self, a):
        self.a = a
        self.sp = os.path.abspath(a.sheetpipe)
        self.go = os.path.abspath(a.go)
        self.work = tempfile.mkdtemp(prefix="goref-bench-")
        self.file = os.path.join(self.work, "bench.xlsx")
        self.db = f"goref_bench_{os.getpid()}"
        self.url = with_db(a.database_url, self.db)
        sep = "&" if "?" in self.url else "?"
        self.go_dsn = self.url + (f"{sep}sslmode=disable" if "sslmode" not in self.url else "")
        self.procs = []
        self.times = {}

    # -- setup ---------------------------------------------------------------
    def setup(self):
        sh([self.sp, "generate", self.file, "--rows", str(self.a.rows)])
        psql(self.a.database_url, f"DROP DATABASE IF EXISTS {self.db}")
        psql(self.a.database_url, f"CREATE DATABASE {self.db}")
        # sheetpipe's schema makes the table and the six indexes.
        sh([self.sp, "import", self.file, "--method", "copy", "--database-url", self.url])
        before = self.indexes()
        # The Go program's AutoMigrate must find them all and add nothing.
        self.reset()
        self.go_cli("batch")
        after = self.indexes()
        if before != after or len(after) != 7:
            sys.exit(f"indexes differ after AutoMigrate: {before} vs {after}")
        self.start_servers()

    def indexes(self):
        return psql(self.url, "SELECT string_agg(indexname, ',' ORDER BY indexname) "
                              "FROM pg_indexes WHERE tablename = 'businesses'").split(",")

    def start_servers(self):
        port = free_port()
        env = dict(os.environ, GIN_MODE="release")
        go = subprocess.Popen([self.go, "-dsn", self.go_dsn, "-addr", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.procs.append(go)
        self.go_addr = f"127.0.0.1:{port}"
        sp = subprocess.Popen([self.sp, "serve", "--bind", "127.0.0.1:0", "--database-url",
                               self.url, "--data-dir", os.path.join(self.work, "sp-data")],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=dict(os.environ, RUST_LOG="warn"))
        self.procs.append(sp)
        for line in sp.stdout:
            if "http://" in line:
                self.sp_addr = line.split("http://", 1)[1].strip()
                break
        else:
            sys.exit("sheetpipe serve exited before listening")
        drain(sp.stdout)
        for addr in (self.go_addr, self.sp_addr):
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://{addr}/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.1)
            else:
                sys.exit(f"no healthy service at {addr}")

    def cleanup(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()
        try:
            psql(self.a.database_url, f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
        finally:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- one measurement -----------------------------------------------------
    def reset(self):
        psql(self.url, "TRUNCATE businesses RESTART IDENTITY")
        psql(self.url, "CHECKPOINT")

    def table_rows(self, what):
        n = int(psql(self.url, "SELECT count(*) FROM businesses"))
        if n != self.a.rows:
            sys.exit(f"{what}: table holds {n} rows, expected {self.a.rows}")

    def timed(self, args):
        t = time.perf_counter()
        out = subprocess.run(args, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if out.returncode != 0:
            sys.exit(f"{args} failed ({out.returncode}): {out.stderr[-2000:]}")
        return wall, out.stdout

    def go_cli(self, method):
        wall, out = self.timed([self.go, "-dsn", self.go_dsn, "-import", self.file,
                                "-method", method])
        ans = json.loads(out)
        check_counts(ans["stats"], self.a.rows, "go cli")
        self.go_phases = (ans["parse_ms"] / 1000, ans["import_ms"] / 1000, wall)
        return wall

    def sp_cli(self, method):
        # Every repetition imports the same file: allowed explicitly.
        wall, out = self.timed([self.sp, "import", self.file, "--method", method, "--json",
                                "--allow-reimport", "--database-url", self.url])
        check_counts(json.loads(out)["stats"], self.a.rows, f"sheetpipe cli {method}")
        return wall

    def upload(self, addr, method, what):
        out = os.path.join(self.work, "answer.json")
        r = sh(["curl", "-sS", "-o", out, "-w", "%{http_code} %{time_total}",
                "-F", f"file=@{self.file};filename=bench.xlsx",
                f"http://{addr}/upload?method={method}&allow_reimport=true"])
        code, total = r.stdout.split()
        with open(out) as f:
            ans = json.load(f)
        if code != "200":
            sys.exit(f"{what}: HTTP {code}: {ans}")
        check_counts(ans["stats"], self.a.rows, what)
        return float(total)

    def case(self, key):
        kind, prog, method = key
        if kind == "parse":
            if prog == "go":
                wall, out = self.timed([self.go, "-parse-only", self.file])
                if json.loads(out)["rows"] != self.a.rows:
                    sys.exit(f"go parse: {out}")
            else:
                wall, out = self.timed([self.sp, "import", self.file, "--dry-run", "--json"])
                check_counts(json.loads(out)["stats"], self.a.rows, "sheetpipe dry run")
            return wall
        self.reset()
        if kind == "cli":
            wall = self.go_cli(method) if prog == "go" else self.sp_cli(method)
        else:
            addr = self.go_addr if prog == "go" else self.sp_addr
            wall = self.upload(addr, method, f"{prog} http {method}")
        self.table_rows(f"{kind} {prog} {method}")
        return wall

    def run(self):
        cases = CASES
        self.go_phase_times = []
        self.load = [os.getloadavg()[0]]
        for rnd in range(self.a.warmup + self.a.runs):
            order = cases[rnd % len(cases):] + cases[:rnd % len(cases)]
            for key in order:
                wall = self.case(key)
                if rnd >= self.a.warmup:
                    self.times.setdefault(key, []).append(wall)
                    if key == ("cli", "go", "batch"):
                        self.go_phase_times.append(self.go_phases)
            self.load.append(os.getloadavg()[0])
            print(f"round {rnd + 1}/{self.a.warmup + self.a.runs} done"
                  + (" (warm-up)" if rnd < self.a.warmup else ""), file=sys.stderr)

    # -- report --------------------------------------------------------------
    def report(self):
        med = {k: statistics.median(v) for k, v in self.times.items()}
        label = {"cli": "whole process", "http": "POST /upload", "parse": "parse only"}
        name = {"go": "Go rebuild", "sp": "sheetpipe"}
        print(f"\n{self.a.rows} rows, medians of {self.a.runs} interleaved runs "
              f"(+{self.a.warmup} warm-up); 1-min load average during the runs "
              f"{min(self.load):.2f}–{max(self.load):.2f} on {os.cpu_count()} CPUs")
        print(f"{'kind':<14} {'program':<11} {'method':<6} {'median':>9} {'min–max':>17} "
              f"{'rows/s':>8} {'÷ Go':>6} {'rounds':>6} {'mins':>6}  target (on ÷ Go)")
        ratios = {}
        for key in CASES:
            times = self.times[key]
            kind, prog, method = key
            gokey = (kind, "go", "batch" if kind != "parse" else "-")
            ratio = med[key] / med[gokey]
            # Each round's own ratio (the two lines ran seconds apart, under
            # the same load), then their median; and the ratio of the minima.
            per_round = statistics.median(t / g for t, g in zip(times, self.times[gokey]))
            of_mins = min(times) / min(self.times[gokey])
            ratios[" ".join(key)] = {"medians": ratio, "per_round": per_round, "mins": of_mins}
            target = ""
            if prog == "sp" and method in TARGETS:
                t = TARGETS[method]
                target = f"≤ {t:.2f}: " + ("met" if ratio <= t else f"NOT met ({ratio / t:.2f}× the target)")
            print(f"{label[kind]:<14} {name[prog]:<11} {method:<6} {med[key] * 1000:8.1f}ms "
                  f"{min(times) * 1000:7.1f}–{max(times) * 1000:7.1f}ms "
                  f"{self.a.rows / med[key]:8.0f} {ratio:6.2f} {per_round:6.2f} {of_mins:6.2f}  {target}")
        print("÷ Go: ratio of the medians; rounds: median of each round's own ratio; "
              "mins: ratio of the fastest runs")
        parse, imp, rest = (statistics.median(x) * 1000 for x in zip(*[
            (p, i, w - p - i) for p, i, w in self.go_phase_times]))
        print(f"Go whole-process batch, by phase (medians): parse {parse:.1f} ms, "
              f"import {imp:.1f} ms, the rest (start, connect, AutoMigrate, exit) {rest:.1f} ms")
        print("counts: exact (every answer and the table held exactly the rows, every run)")
        return {"rows": self.a.rows, "runs": self.a.runs,
                "times": {" ".join(k): v for k, v in self.times.items()},
                "medians": {" ".join(k): v for k, v in med.items()},
                "ratios": ratios,
                "go_cli_batch_phases_parse_import_wall": self.go_phase_times,
                "load": self.load}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=10000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--database-url", default=os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--sheetpipe", default=os.path.join(ROOT, "target/release/sheetpipe"))
    p.add_argument("--go", default=os.path.join(ROOT, "target/go-tutorial/business-importer"))
    p.add_argument("--json", help="also write the raw timings here")
    a = p.parse_args()
    for b in (a.sheetpipe, a.go):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing {b}: cargo build --release / bench/go-tutorial/run.sh build")
    bench = Bench(a)
    try:
        bench.setup()
        bench.run()
        result = bench.report()
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=1)
    finally:
        bench.cleanup()


if __name__ == "__main__":
    main()
