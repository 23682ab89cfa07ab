"""What Deploy/scale-demo and Deploy/bench/run both need: commands, ports, PostgreSQL's tools, Debian packages,
a server's readiness and an HTTP call. Python standard library only."""
import glob, os, shutil, socket, subprocess, time, urllib.error, urllib.request

IS_ROOT = os.getuid() == 0


def run(command, **kwargs):
    """Runs `command` to its end and returns its output; stops the script with the output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name, required=True):
    """The newest PostgreSQL's `name` (Debian keeps them in /usr/lib/postgresql/N/bin), else PATH's."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(name)
    if path is None and required:
        raise SystemExit(f"{name} not found: apt-get install postgresql")
    return path


def as_postgres(command):
    """PostgreSQL and PgBouncer refuse to run as root: run them as the postgres user."""
    return ["runuser", "-u", "postgres", "--"] + command if IS_ROOT else command


def apt_install(packages):
    """Installs Debian packages (as root); the services some of them start are stopped again, since the scripts run
    their own on free ports."""
    if not packages:
        return
    if not IS_ROOT:
        raise SystemExit(f"missing: sudo apt-get install {' '.join(packages)}")
    print(f"installing {' '.join(packages)} from Debian's packages", flush=True)
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=environment)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + list(packages), env=environment)
    for service in set(packages) & {"nginx", "pgbouncer"}:
        subprocess.run(["service", service, "stop"], capture_output=True)


def wait_port(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def wait_ready(url, process, name, seconds=180):
    """Waits for `/health/ready` to answer 200; stops the script if `process` exits or the time runs out."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with status {process.returncode}")
        if call(url, "GET", "/health/ready", timeout=2)[0] == 200:
            return
        time.sleep(0.2)
    raise SystemExit(f"{name} did not become ready")


class Client:
    """HTTP calls on one kept-alive connection (one per thread), as an integration that uploads many files does and
    as psql keeps its session: no TCP connection and no urllib opener per request. Same answers as `call`."""

    def __init__(self, url, timeout=60):
        import http.client, urllib.parse
        u = urllib.parse.urlparse(url)
        self._new = lambda: http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        self._connection = None

    def call(self, method, path, token=None, body=None, headers=None):
        """(status, headers with lower-case names, body)."""
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = self._new()
            try:
                self._connection.request(method, path, body=body, headers=headers)
                r = self._connection.getresponse()
                answer = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self._connection.close()
                    self._connection = None
                return r.status, {k.lower(): v for k, v in r.getheaders()}, answer
            except (ConnectionError, OSError) as e:
                # A kept connection the server closed while idle: one new connection, then the error.
                self._connection.close()
                self._connection = None
                if attempt == 2:
                    return None, {}, str(e).encode()

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def call(url, method, path, token=None, body=None, headers=None, timeout=10):
    """(status, headers with lower-case names, body); status None when there was no HTTP answer."""
    request = urllib.request.Request(url + path, data=body, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()
    except Exception as e:
        return None, {}, str(e).encode()
