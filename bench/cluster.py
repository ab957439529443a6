#!/usr/bin/env python3
"""Issue 12's benchmark: N instances of `sheetpipe serve` on one PostgreSQL
database against one instance, the same uploads spread over them.

    python3 bench/cluster.py [--bin target/release/sheetpipe] [--uploads 60]
        [--rows 10000] [--instances 3] [--runs 2]

For each run, one instance and then N instances (interleaved, so the
machine's noise falls on both alike) are started on a fresh scratch
database (`sheetpipe_cluster_<pid>`, dropped at the end), each with its own
data dir and `--auth off` on loopback. All uploads are sent at once as
background imports (`POST /imports?method=copy`), round robin over the
instances; the time is from the first upload sent to the last import
ended (read from the `imports` table). Meanwhile `/health` of the first
instance is polled every 50 ms and its latency recorded. Every run checks
the counts: every import completed, and the table holds uploads × the
file's good rows. Prints one JSON object; slowness never fails, a wrong
count does (exit 1).
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, threading, time, urllib.request

PG = "postgres://postgres@127.0.0.1:5432"


def psql(db, sql):
    out = subprocess.run(["psql", "-X", "-qAt", f"{PG}/{db}", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def start(bin_, db, port, work):
    data = tempfile.mkdtemp(dir=work)
    log = open(os.path.join(data, "log"), "w")
    p = subprocess.Popen([bin_, "serve", "--bind", f"127.0.0.1:{port}",
                          "--database-url", f"{PG}/{db}", "--data-dir", data,
                          "--auth", "off", "--max-queued", "1000"],
                         stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return p
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"instance on {port} did not start; see {data}/log")


def upload(port, path, ids, lock):
    out = subprocess.run(["curl", "-sS", "-f", "-F", f"file=@{path}",
                          f"http://127.0.0.1:{port}/imports?method=copy&allow_reimport=true"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"upload to {port} failed: {out.stderr}")
    with lock:
        ids.append(json.loads(out.stdout)["id"])


def run_once(args, n, file, good, work):
    db = f"sheetpipe_cluster_{os.getpid()}"
    psql("postgres", f"DROP DATABASE IF EXISTS {db}")
    psql("postgres", f"CREATE DATABASE {db}")
    ports = [18400 + i for i in range(n)]
    procs = []
    try:
        for port in ports:
            procs.append(start(args.bin, db, port, work))
        return measure(args, n, file, good, db, ports)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
        psql("postgres", f"DROP DATABASE IF EXISTS {db}")


def measure(args, n, file, good, db, ports):
    health, stop = [], threading.Event()

    def probe():
        while not stop.is_set():
            t = time.perf_counter()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/health", timeout=10).read()
                health.append((time.perf_counter() - t) * 1000)
            except Exception:
                health.append(float("inf"))
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    ids, lock = [], threading.Lock()
    t0 = time.perf_counter()
    senders = [threading.Thread(target=upload, args=(ports[i % n], file, ids, lock))
               for i in range(args.uploads)]
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    while True:
        done = int(psql(db, "SELECT count(*) FROM imports WHERE status IN "
                            "('completed','failed','cancelled')"))
        if done >= args.uploads:
            break
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    stop.set()
    prober.join()
    completed = int(psql(db, "SELECT count(*) FROM imports WHERE status = 'completed'"))
    rows = int(psql(db, "SELECT count(*) FROM businesses"))
    ran_by = int(psql(db, "SELECT count(DISTINCT instance_id) FROM imports")) if n > 1 else 1
    exact = completed == args.uploads and rows == args.uploads * good
    h = sorted(health)
    return {"instances": n, "wall_s": round(wall, 2),
            "rows_per_s": round(args.uploads * good / wall),
            "health_p50_ms": round(statistics.median(h), 1),
            "health_p99_ms": round(h[min(len(h) - 1, int(len(h) * 0.99))], 1),
            "health_samples": len(h), "instances_that_ran_imports": ran_by,
            "counts_exact": exact}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/sheetpipe")
    ap.add_argument("--uploads", type=int, default=60)
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sheetpipe-cluster-")
    try:
        file = os.path.join(work, "upload.xlsx")
        subprocess.run([args.bin, "generate", file, "--rows", str(args.rows),
                        "--bad-rate", "0"], check=True, capture_output=True)
        good = args.rows
        results = []
        for _ in range(args.runs):
            for n in (1, args.instances):
                results.append(run_once(args, n, file, good, work))
                print(json.dumps(results[-1]), file=sys.stderr)
        one = statistics.median(r["wall_s"] for r in results if r["instances"] == 1)
        many = statistics.median(r["wall_s"] for r in results if r["instances"] == args.instances)
        print(json.dumps({"uploads": args.uploads, "rows": args.rows,
                          "throughput_many_vs_one": round(one / many, 2),
                          "runs": results}, indent=1))
        if not all(r["counts_exact"] for r in results):
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
