#!/usr/bin/env python3
"""Contract run: schemathesis against the live server and the OpenAPI document it serves, once per role.

Starts the built server (.build/debug/senstat-server, or --server) with --demo on its embedded PostgreSQL in a
temporary folder, on a free loopback port, then runs `st run` with every check on for each demo token: admin,
trust executive, school leader and researcher. Zero failures is the pass mark; the server is stopped afterwards.

    pip install -r Tests/contract/requirements.txt
    python3 Tests/contract/contract.py                    # what `swift test` runs (EndToEndTests/ContractTests)
    python3 Tests/contract/contract.py --max-examples 200 # a longer run

Per-operation exceptions (statuses a schema cannot predict) are in Tests/contract/schemathesis.toml, each with
its reason. Standard library only, apart from schemathesis itself.
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ROLES = ["admin", "trust_executive", "school_leader", "researcher"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExitedBeforeReady(SystemExit):
    pass


def wait_ready(url, process, seconds=180, log_path=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            tail = ""
            if log_path and os.path.exists(log_path):
                tail = "; its log ends:\n" + "".join(open(log_path, errors="replace").readlines()[-15:])
            raise ExitedBeforeReady(f"the server exited with status {process.returncode} before it was ready{tail}")
        try:
            with urllib.request.urlopen(url + "/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not become ready")


def start_demo(binary, prefix):
    """The built server with --demo on its embedded PostgreSQL, in a new folder, on a free loopback port.
    Returns (process, log, folder, data folder, url). One token makes every request of a run, so the per-token
    rate limit (RateLimitTests) and the limit on failed authentications per address (HardeningTests) are lifted:
    the tools here try tokens of their own from this address."""
    work = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(work, 0o755)  # as root the embedded cluster runs as postgres, which must reach data/
    data_dir = os.path.join(work, "data")
    port = free_port()
    environment = dict(os.environ, SENSTAT_RATE_LIMIT="1000000", SENSTAT_RATE_BURST="1000000",
                       SENSTAT_AUTH_FAILURE_RATE="1000000", SENSTAT_AUTH_FAILURE_BURST="1000000")
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen(
        [binary, "serve", "--demo", "--data-dir", data_dir, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, env=environment)
    return server, log, work, data_dir, f"http://127.0.0.1:{port}"


def start_ready_demo(binary, prefix):
    """`start_demo`, waited for until ready. The port comes from `free_port`, which another process may take before
    the server binds it (tests start servers side by side): on "Address already in use" it starts again on another
    port, up to three times."""
    for attempt in range(3):
        server, log, work, data_dir, url = start_demo(binary, prefix)
        try:
            wait_ready(url, server, log_path=log.name)
            return server, log, work, data_dir, url
        except ExitedBeforeReady as exited:
            stop_demo(server, log)
            if "Address already in use" not in str(exited) or attempt == 2:
                raise
            shutil.rmtree(work, ignore_errors=True)
    raise AssertionError("unreachable")


def stop_demo(server, log):
    """SIGTERM, a minute to stop (its embedded cluster with it), then SIGKILL."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    log.close()


def schemathesis_command():
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        raise SystemExit("schemathesis is not installed: pip install -r Tests/contract/requirements.txt")
    return [st]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.path.join(ROOT, ".build/debug/senstat-server"))
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seeds", default="20261129,7",
                        help="comma-separated hypothesis seeds; each role runs once per seed (a rule a new seed breaks "
                             "must be stated in schemathesis.toml with its reason)")
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, reports)")
    args = parser.parse_args()
    st = schemathesis_command()

    server, log, work, data_dir, url = start_ready_demo(args.server, "senstat-contract-")
    failed = []
    try:
        tokens = json.load(open(os.path.join(data_dir, "demo-tokens.json")))
        for role, seed in [(r, int(s)) for s in args.seeds.split(",") for r in args.roles.split(",")]:
            token = tokens[role]["token"]
            report = os.path.join(work, f"{role}-{seed}.junit.xml")
            command = st + [
                "--config-file", os.path.join(HERE, "schemathesis.toml"),
                "run", url + "/openapi.yaml", "--url", url,
                "-H", f"Authorization: Bearer {token}",
                "--checks", "all",
                "--max-examples", str(args.max_examples),
                "--seed", str(seed),
                "--generation-database", "none",
                # One worker: CPython 3.11's ast.parse is not thread-safe ("AST constructor recursion depth
                # mismatch"), and hypothesis parses lambdas while describing strategies.
                "--workers", "1",
                "--request-timeout", "10",
                "--report", "junit", "--report-junit-path", report,
            ]
            print(f"== {role} (seed {seed}): {' '.join(command[:1] + command[3:5])} ...", flush=True)
            started = time.time()
            result = subprocess.run(command, env=dict(os.environ, NO_COLOR="1"), cwd=work,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            summary = [line for line in result.stdout.splitlines() if line.startswith("=") or "generated" in line]
            print(f"== {role} (seed {seed}): exit {result.returncode} in {time.time() - started:.0f} s; " + " | ".join(s.strip("= ") for s in summary[-2:]), flush=True)
            if result.returncode != 0:
                failed.append(f"{role} (seed {seed})")
                print(result.stdout, flush=True)
        if server.poll() is not None:
            failed.append("server")
            print(f"the server died during the run (status {server.returncode})")
    finally:
        stop_demo(server, log)
        if failed:
            print(open(os.path.join(work, "server.log")).read()[-4000:])
        if args.keep or failed:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"contract: FAILED for {', '.join(failed)}")
        return 1
    print(f"contract: 0 failures for {', '.join(args.roles.split(','))} with seeds {args.seeds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
