"""What the benchmarks share: building the release binary, starting it on a fresh data directory, reading RSS."""
import json, os, resource, shutil, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, ".build", "release", "switchboard")
DEBUG = os.path.join(ROOT, ".build", "debug", "switchboard")
BINARY = RELEASE


def add_common_arguments(parser):
    parser.add_argument("--no-build", action="store_true", help="use the release binary as it is")
    parser.add_argument("--binary", help="measure this switchboard binary instead (another commit's release build, say); implies --no-build")
    parser.add_argument("--smoke", action="store_true",
                        help="a second or two of everything against the debug build (CI runs this so that no benchmark rots); "
                             "the figures mean nothing")


def prepare(args):
    """Builds what the run measures (the release binary as it ships), or, with --smoke, uses the debug build."""
    global BINARY
    if args.binary:
        BINARY = os.path.abspath(args.binary)
    elif args.smoke:
        BINARY = DEBUG
        if not os.path.exists(DEBUG):
            sys.exit(f"{DEBUG} is missing: swift build first")
    elif not args.no_build:
        build_release()


def build_release():
    """The binary as it ships: release, with the Swift runtime linked in."""
    subprocess.run(["swift", "build", "-c", "release", "--product", "switchboard", "--static-swift-stdlib"], cwd=ROOT, check=True)


def raise_file_limit(wanted=65536):
    """Open streams need sockets; children inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def http(method, url, body=None, token=None):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


class Server:
    """`switchboard serve` on a free port and a fresh data directory, removed on exit."""

    def __init__(self, flags=(), env=None):
        self.workdir = tempfile.mkdtemp(prefix="switchboard-bench-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        self.process = subprocess.Popen([BINARY, "serve", "--http-port", str(self.port), *flags], cwd=self.workdir,
                                        env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while True:
            try:
                if http("GET", self.base + "/health")[0] == 200:
                    break
            except OSError:
                if self.process.poll() is not None:
                    sys.exit("the server exited during start-up: " + self.process.stderr.read().decode())
                time.sleep(0.002)
        self.startup_ms = (time.perf_counter() - started) * 1000

    def rss_mib(self, field="VmRSS"):
        return rss_kib(self.process.pid, field) / 1024

    def signup(self, email="bench@example.com"):
        _, tokens = http("POST", self.base + "/api/v1/auth/signup", {"email": email, "password": "benchmark password"})
        return tokens["access_token"]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)
