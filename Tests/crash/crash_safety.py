#!/usr/bin/env python3
"""Crash safety: concurrent clients submit SEN returns while the server is killed with SIGKILL and its
PostgreSQL is stopped with `pg_ctl stop -m immediate`, again and again. Clients retry every request that was
not acknowledged (PUT with If-Match; CSV imports with the same Idempotency-Key). Afterwards every acknowledged
submission must be present exactly once, in order, with one audit row per version.

    python3 Tests/crash/crash_safety.py --cycles 3            # the short form CI runs
    python3 Tests/crash/crash_safety.py --cycles 50 --clients 30

Uses the built server (.build/debug/senstat-server, or --server) with its embedded PostgreSQL. Standard library only.
"""
import argparse, csv, io, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time
import urllib.error, urllib.request

TERM = "2025-26-autumn"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, data_dir):
        self.binary, self.data_dir, self.port, self.process = binary, data_dir, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        # All clients share one token; the per-token rate limit is not what this run is about.
        environment = dict(os.environ, SENSTAT_RATE_LIMIT="10000", SENSTAT_RATE_BURST="10000")
        self.process = subprocess.Popen(
            [self.binary, "--data-dir", self.data_dir, "--port", str(self.port), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.data_dir, "server.log"), "a"), env=environment)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.2)
        raise SystemExit("the server did not become ready")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)

    def crash_postgres(self):
        bins = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v) if v.isdigit() else 0)
        command = [f"/usr/lib/postgresql/{bins[-1]}/bin/pg_ctl", "-D", os.path.join(self.data_dir, "pg"), "-m", "immediate", "-w", "stop"]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--"] + command
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sql(self, query):
        bins = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v) if v.isdigit() else 0)
        command = [f"/usr/lib/postgresql/{bins[-1]}/bin/psql", "-h", os.path.join(self.data_dir, "run"), "-U", "senstat_superuser",
                   "-d", "senstat", "-At", "-c", query]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def call(server, method, path, token, body=None, headers=None, timeout=10):
    request = urllib.request.Request(server.url + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except Exception:
        return None, {}, b""


class Stats:
    def __init__(self):
        self.lock, self.requests, self.acknowledged, self.retries = threading.Lock(), 0, 0, 0

    def add(self, requests=0, acknowledged=0, retries=0):
        with self.lock:
            self.requests += requests
            self.acknowledged += acknowledged
            self.retries += retries


def put_client(server, token, urn, stop, acked, stats):
    """Amends one school's return again and again; records every value the server acknowledged."""
    etag, k = None, 1
    while not stop.is_set():
        body = json.dumps({"pupils_on_roll": 1000, "sen_support": k, "ehc_plan": 10}).encode()
        headers = {"Content-Type": "application/json"}
        if etag:
            headers["If-Match"] = etag
        status, h, _ = call(server, "PUT", f"/v1/schools/{urn}/sen-returns/{TERM}", token, body, headers)
        stats.add(requests=1)
        if status in (200, 201):
            acked.append(k); stats.add(acknowledged=1); etag, k = h.get("ETag") or h.get("Etag"), k + 1
            continue
        stats.add(retries=1)
        if status in (412, 428):
            # Perhaps our last unacknowledged write did land: look before writing again.
            s, h2, b = call(server, "GET", f"/v1/schools/{urn}/sen-returns/{TERM}", token)
            stats.add(requests=1)
            if s == 200:
                if json.loads(b)["return"]["sen_support"] == k:
                    acked.append(k); stats.add(acknowledged=1); k += 1
                etag = h2.get("ETag") or h2.get("Etag")
            continue
        time.sleep(0.2)


def import_client(server, token, trust, urns, name, stop, acked, stats):
    """Uploads a CSV for its schools round after round, each round with its own Idempotency-Key, retried until acknowledged."""
    r = 1
    while not stop.is_set():
        rows = "urn,pupils_on_roll,sen_support,ehc_plan\n" + "".join(f"{u},1000,{r},10\n" for u in urns)
        key = f"{name}-round-{r}"
        while True:
            status, _, body = call(server, "POST", f"/v1/trusts/{trust}/sen-returns/{TERM}/imports", token, rows.encode(),
                                   {"Content-Type": "text/csv", "Idempotency-Key": key}, timeout=30)
            stats.add(requests=1)
            if status == 200:
                acked.append(r); stats.add(acknowledged=1); r += 1
                break
            if status is not None and 400 <= status < 500 and status != 429:
                raise SystemExit(f"{name}: unexpected {status}: {body[:300]}")
            stats.add(retries=1)
            time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--server", default=".build/debug/senstat-server")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="senstat-crash-", dir="/tmp")
    os.chmod(data_dir, 0o755)
    server = Server(os.path.abspath(args.server), data_dir)
    admin = subprocess.run([server.binary, "token", "create", "--role", "admin", "--data-dir", data_dir],
                           check=True, capture_output=True, text=True).stdout.strip()
    server.start()
    importers = max(1, args.clients // 4)
    putters = args.clients - importers
    school_count = putters + importers * 5
    gias = io.StringIO()
    w = csv.writer(gias)
    w.writerow(["URN", "EstablishmentName", "PhaseOfEducation (name)", "EstablishmentStatus (name)", "Trusts (code)", "Trusts (name)"])
    for i in range(school_count):
        w.writerow([880000 + i, f"Crash School {i}", "Primary", "Open", "TR77777", "Crash Test Trust"])
    status, _, body = call(server, "POST", "/v1/admin/gias-imports?create_trusts=true", admin, gias.getvalue().encode(), {"Content-Type": "text/csv"}, timeout=60)
    assert status == 200, body
    _, _, body = call(server, "GET", "/v1/trusts", admin)
    trust = [t for t in json.loads(body)["trusts"] if t.get("gias_code") == "TR77777"][0]["trust_id"]
    _, _, body = call(server, "POST", "/v1/tokens", admin, json.dumps({"role": "trust_executive", "trust_id": trust}).encode(), {"Content-Type": "application/json"})
    executive = json.loads(body)["token"]

    stop, stats, threads, put_acks, import_acks = threading.Event(), Stats(), [], {}, {}
    for i in range(putters):
        urn = 880000 + i
        put_acks[urn] = []
        threads.append(threading.Thread(target=put_client, args=(server, executive, urn, stop, put_acks[urn], stats)))
    for j in range(importers):
        urns = [880000 + putters + j * 5 + n for n in range(5)]
        import_acks[tuple(urns)] = []
        threads.append(threading.Thread(target=import_client, args=(server, executive, trust, urns, f"importer{j}", stop, import_acks[tuple(urns)], stats)))
    for t in threads:
        t.start()

    random.seed(1)
    for cycle in range(args.cycles):
        time.sleep(random.uniform(1.0, 2.5))
        if cycle % 2 == 0:
            server.kill()
            server.start()
        else:
            server.crash_postgres()
            time.sleep(random.uniform(2.0, 4.0))
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join(timeout=120)

    problems = []
    versions = {}
    for line in server.sql(f"SELECT urn, version, payload->>'sen_support' FROM sen_return_versions WHERE term = '{TERM}' ORDER BY urn, version").splitlines():
        urn, version, k = line.split("|")
        versions.setdefault(int(urn), []).append(int(k))
    for urn, acks in put_acks.items():
        stored = versions.get(urn, [])
        if stored != list(range(1, len(stored) + 1)):
            problems.append(f"school {urn}: versions hold {stored}, not 1..n once each")
        if not set(acks) <= set(stored):
            problems.append(f"school {urn}: acknowledged {sorted(set(acks) - set(stored))} lost")
        if len(stored) != len(set(stored)):
            problems.append(f"school {urn}: duplicated values {stored}")
    for urns, acks in import_acks.items():
        for urn in urns:
            stored = versions.get(urn, [])
            if stored[:len(acks)] != acks or len(stored) > len(acks) + 1:
                problems.append(f"school {urn}: imports acknowledged {acks}, versions hold {stored}")
    audit = int(server.sql(f"SELECT count(*) FROM audit_log WHERE object_key LIKE '%/{TERM}'"))
    version_rows = int(server.sql(f"SELECT count(*) FROM sen_return_versions WHERE term = '{TERM}'"))
    orphans = int(server.sql("SELECT count(*) FROM sen_returns r WHERE NOT EXISTS (SELECT 1 FROM sen_return_versions v WHERE v.trust_id = r.trust_id AND v.urn = r.urn AND v.term = r.term AND v.version = r.current_version)"))
    if audit != version_rows:
        problems.append(f"{audit} audit rows for {version_rows} versions")
    if orphans:
        problems.append(f"{orphans} returns without their current version")
    acknowledged = sum(len(a) for a in put_acks.values()) + sum(len(a) for a in import_acks.values())
    lost = sum(len(set(a) - set(versions.get(u, []))) for u, a in put_acks.items())
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"cycles {args.cycles}, clients {args.clients} ({putters} PUT, {importers} import), requests {stats.requests}, "
          f"retries {stats.retries}, acknowledged {acknowledged}, versions {version_rows}, audit rows {audit}, "
          f"lost {lost}, duplicated {sum(len(v) - len(set(v)) for v in versions.values())}")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("crash safety: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
