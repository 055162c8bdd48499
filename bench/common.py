"""What the benchmarks share: building the release binary, starting it on a fresh data directory, reading RSS."""
import argparse, glob, json, os, re, resource, shutil, socket, subprocess, sys, tempfile, time, urllib.request

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


def add_load_arguments(parser):
    """wrk's load (per route and run) and the engines to measure on."""
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engines", default="sqlite,postgres")


def postgres_installed():
    """Whether a throwaway PostgreSQL cluster can be started here; says so on stderr when not."""
    if glob.glob("/usr/lib/postgresql/*/bin/initdb") or shutil.which("initdb"):
        return True
    print("PostgreSQL is not installed: its figures are left out", file=sys.stderr)
    return False


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

    def __init__(self, flags=(), env=None, launcher=()):
        """`launcher` goes before the binary on the command line (scripts/startup-order runs it under valgrind)."""
        self.workdir = tempfile.mkdtemp(prefix="switchboard-bench-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        self.process = subprocess.Popen([*launcher, BINARY, "serve", "--http-port", str(self.port), *flags], cwd=self.workdir,
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

    def cpu_seconds(self):
        """The server's user and system CPU time so far."""
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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


def to_ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, args, token=None, lua=None):
    """wrk's figures for `url`; `token` is one bearer token, or a list of them taken in turn, request by request;
    `lua` is a wrk script of its own (a POST with a body, say)."""
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s", "--latency", url]
    script = None
    if lua:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(lua)
        script.close()
        command[1:1] = ["-s", script.name]
    elif isinstance(token, list):
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write("tokens = {" + ",".join(f'"{t}"' for t in token) + "}\nn = math.random(#tokens)\n"
                     "request = function()\n  n = n % #tokens + 1\n"
                     "  return wrk.format(nil, nil, {[\"Authorization\"] = \"Bearer \" .. tokens[n]})\nend\n")
        script.close()
        command[1:1] = ["-s", script.name]
    if isinstance(token, str):
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    try:
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    finally:
        if script:
            os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = to_ms(re.search(r"\s50%\s+([\d.]+\w+)", output).group(1))
    p99 = to_ms(re.search(r"\s99%\s+([\d.]+\w+)", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors}


class PostgresCluster:
    """scripts/postgres-cluster's throwaway cluster, kept running between calls."""

    def __init__(self):
        script = "source scripts/postgres-cluster && pg_cluster_start && echo \"$PG_CLUSTER_URL $PG_CLUSTER_DIR $PG_CLUSTER_BINDIR\""
        out = subprocess.run(["bash", "-c", script], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
        self.url, self.dir, self.bindir = out[-3:]

    def stop(self):
        subprocess.run(["bash", "-c", f"source scripts/postgres-cluster && PG_CLUSTER_DIR={self.dir} PG_CLUSTER_BINDIR={self.bindir} pg_cluster_stop"],
                       cwd=ROOT, check=False)


def median(runs, key="rps"):
    return sorted(runs, key=lambda run: run[key])[len(runs) // 2]


SLICE = 1  # seconds of load a route takes in each round of `interleaved`


def interleaved(targets, args):
    """wrk's figures for each of `targets` ((url, token) pairs, or (url, token, lua) with a wrk script of its own), one
    one-second slice each per round, over --duration x --runs rounds (one, for a smoke run), the order turned round
    from one round to the next so that a machine speeding up or slowing down weighs on both sides of each ratio
    alike. Returns each target's list of slices, round by round."""
    slice_args = argparse.Namespace(**{**vars(args), "duration": SLICE})
    count = max(1, args.duration * args.runs // SLICE)
    slices = [[] for _ in targets]
    for round_ in range(count):
        order = range(len(targets)) if round_ % 2 == 0 else reversed(range(len(targets)))
        for index in order:
            url, token, *lua = targets[index]
            slices[index].append(wrk(url, slice_args, token, *lua))
    return slices


def quartiles(values):
    """The 25th, 50th and 75th percentiles of `values` (nearest rank)."""
    ordered = sorted(values)
    return tuple(ordered[min(len(ordered) - 1, len(ordered) * q // 4)] for q in (1, 2, 3))


def rounds(count):
    """`count` rounds of `interleaved`, as a smoke run's single one reads too: "1 round", "30 rounds"."""
    return f"{count} round" + ("s" if count != 1 else "")


def ratio_line(label, numerators, denominators, target):
    """`label`: the median of the rounds' ratios, with their quartiles and count."""
    low, middle, high = quartiles([a["rps"] / b["rps"] for a, b in zip(numerators, denominators)])
    return f"{label}: median {middle:.2f}, quartiles {low:.2f} to {high:.2f} over {rounds(len(numerators))} ({target})"
