#!/usr/bin/env python3
"""Crash safety: concurrent clients submit SEN returns while the server is killed with SIGKILL and its
PostgreSQL is stopped with `pg_ctl stop -m immediate`, again and again. Clients retry every request that was
not acknowledged (PUT with If-Match; CSV imports with the same Idempotency-Key). Afterwards every acknowledged
submission must be present exactly once, in order, with one audit row per version.

    python3 Tests/crash/crash_safety.py --cycles 3 --period 25   # the short form CI runs (values wrap every 25 writes)
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


class ServerExited(Exception):
    pass


class Server:
    def __init__(self, binary, data_dir):
        self.binary, self.data_dir, self.port, self.process = binary, data_dir, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        """Starts the server and waits until it is ready. A server of this run that is still running (one that died
        on its own may still be writing its backtrace, and holds the port until it exits) is waited for, then
        killed. If the port is taken all the same ("Address already in use": another process may take a port that
        `free_port` found free), the server starts again on another, up to three times; clients read `url` at
        each request."""
        if self.process and self.process.poll() is None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for attempt in range(3):
            log_path = os.path.join(self.data_dir, "server.log")
            offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
            try:
                self.launch()
                return
            except ServerExited as exited:
                with open(log_path, errors="replace") as f:
                    f.seek(offset)
                    this_attempt = f.read()
                if "Address already in use" not in this_attempt or attempt == 2:
                    raise SystemExit(str(exited))
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"

    def launch(self):
        # All clients share one token; the per-token rate limit is not what this run is about.
        environment = dict(os.environ, SENSTAT_RATE_LIMIT="10000", SENSTAT_RATE_BURST="10000")
        self.process = subprocess.Popen(
            [self.binary, "--data-dir", self.data_dir, "--port", str(self.port), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.data_dir, "server.log"), "a"), env=environment)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise ServerExited(f"the server exited ({self.process.returncode}) before it was ready:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the server did not become ready:\n{self.log_tail()}")

    def log_tail(self, lines=30):
        try:
            with open(os.path.join(self.data_dir, "server.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)

    def tear_down(self):
        """Whatever happened: no server and no PostgreSQL of this run left running."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.crash_postgres()

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
        try:
            return e.code, dict(e.headers), e.read()
        except Exception:
            # The server died while its error answer was being read (IncompleteRead): no answer at all.
            return None, {}, b""
    except Exception:
        return None, {}, b""


PERIOD = 900


def encode(k):
    """The k-th write's sen_support: 1..900 again and again, so a body stays valid (support + plans <= roll) for
    any length of run. A write's position is its version, so version v must hold encode(v)."""
    return 1 + (k - 1) % PERIOD


class Stats:
    """One client's figures (and, added up, the run's)."""

    def __init__(self, name="all"):
        self.name, self.lock, self.requests, self.acknowledged, self.retries = name, threading.Lock(), 0, 0, 0
        self.died = None

    def add(self, requests=0, acknowledged=0, retries=0):
        with self.lock:
            self.requests += requests
            self.acknowledged += acknowledged
            self.retries += retries


def guarded(target, stats, *args):
    """Runs a client; a client that dies is recorded, and fails the run."""
    def run():
        try:
            target(*args, stats)
        except BaseException as error:  # noqa: BLE001 - any death of a client is a failure of the run
            stats.died = f"{type(error).__name__}: {error}"
    # Daemon: a run that fails half way must end, not wait for clients that would retry for ever.
    return threading.Thread(target=run, daemon=True)


def put_client(server, token, urn, stop, acked, stats):
    """Amends one school's return again and again; records every value the server acknowledged."""
    etag, k = None, 1
    while not stop.is_set():
        body = json.dumps({"pupils_on_roll": 1000, "sen_support": encode(k), "ehc_plan": 10}).encode()
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
                if json.loads(b)["return"]["sen_support"] == encode(k) and h2.get("ETag", h2.get("Etag")) == f'"{k}"':
                    acked.append(k); stats.add(acknowledged=1); k += 1
                etag = h2.get("ETag") or h2.get("Etag")
            continue
        time.sleep(0.2)


def import_client(server, token, trust, urns, name, stop, acked, stats):
    """Uploads a CSV for its schools round after round, each round with its own Idempotency-Key, retried until acknowledged."""
    r = 1
    while not stop.is_set():
        rows = "urn,pupils_on_roll,sen_support,ehc_plan\n" + "".join(f"{u},1000,{encode(r)},10\n" for u in urns)
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
    parser.add_argument("--period", type=int, default=PERIOD,
                        help="sen_support cycles through 1..PERIOD (at most 900); a small one makes a short run wrap")
    args = parser.parse_args()
    globals()["PERIOD"] = max(2, min(900, args.period))

    data_dir = tempfile.mkdtemp(prefix="senstat-crash-", dir="/tmp")
    os.chmod(data_dir, 0o755)
    server = Server(os.path.abspath(args.server), data_dir)
    admin = subprocess.run([server.binary, "token", "create", "--role", "admin", "--data-dir", data_dir],
                           check=True, capture_output=True, text=True).stdout.strip()
    # SIGTERM (the tests' time limit) ends the run through the same clean-up as any other failure.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("crash safety: stopped by SIGTERM"))
    stop = threading.Event()
    try:
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

        threads, put_acks, import_acks, clients = [], {}, {}, []
        for i in range(putters):
            urn = 880000 + i
            put_acks[urn] = []
            clients.append(Stats(f"put {urn}"))
            threads.append(guarded(put_client, clients[-1], server, executive, urn, stop, put_acks[urn]))
        for j in range(importers):
            urns = [880000 + putters + j * 5 + n for n in range(5)]
            import_acks[tuple(urns)] = []
            clients.append(Stats(f"importer{j}"))
            threads.append(guarded(import_client, clients[-1], server, executive, trust, urns, f"importer{j}", stop, import_acks[tuple(urns)]))
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
        for client, thread in zip(clients, threads):
            if thread.is_alive():
                problems.append(f"{client.name}: still running after the run ended")
            if client.died:
                problems.append(f"{client.name}: died ({client.died})")
        stats = Stats()
        for client in clients:
            stats.add(client.requests, client.acknowledged, client.retries)
        versions = {}
        for line in server.sql(f"SELECT urn, version, payload->>'sen_support' FROM sen_return_versions WHERE term = '{TERM}' ORDER BY urn, version").splitlines():
            urn, version, k = line.split("|")
            versions.setdefault(int(urn), []).append(int(k))
        # Version v of a school holds write v (encode(v)): in order, each once, none lost.
        lost = 0
        for urn, acks in put_acks.items():
            stored = versions.get(urn, [])
            if stored != [encode(v) for v in range(1, len(stored) + 1)]:
                problems.append(f"school {urn}: versions are not writes 1..n in order, once each")
            missing = [k for k in acks if k > len(stored)]
            lost += len(missing)
            if missing:
                problems.append(f"school {urn}: acknowledged writes {missing[:10]} lost")
        for urns, acks in import_acks.items():
            for urn in urns:
                stored = versions.get(urn, [])
                if stored[:len(acks)] != [encode(r) for r in acks] or len(stored) > len(acks) + 1:
                    problems.append(f"school {urn}: {len(acks)} imports acknowledged, {len(stored)} versions that do not match them")
        audit = int(server.sql(f"SELECT count(*) FROM audit_log WHERE object_key LIKE '%/{TERM}'"))
        version_rows = int(server.sql(f"SELECT count(*) FROM sen_return_versions WHERE term = '{TERM}'"))
        orphans = int(server.sql("SELECT count(*) FROM sen_returns r WHERE NOT EXISTS (SELECT 1 FROM sen_return_versions v WHERE v.trust_id = r.trust_id AND v.urn = r.urn AND v.term = r.term AND v.version = r.current_version)"))
        if audit != version_rows:
            problems.append(f"{audit} audit rows for {version_rows} versions")
        if orphans:
            problems.append(f"{orphans} returns without their current version")
        acknowledged = sum(len(a) for a in put_acks.values()) + sum(len(a) for a in import_acks.values())
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        stop.set()
        server.tear_down()
    print(f"cycles {args.cycles}, clients {args.clients} ({putters} PUT, {importers} import), requests {stats.requests}, "
          f"retries {stats.retries}, acknowledged {acknowledged}, versions {version_rows}, audit rows {audit}, "
          f"lost {lost}")
    for client in clients:
        print(f"  {client.name}: requests {client.requests}, acknowledged {client.acknowledged}, retries {client.retries}"
              + (f", DIED: {client.died}" if client.died else ""))
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("crash safety: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
