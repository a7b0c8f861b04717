"""A team's Keyward Server for the e2e tests, from real parts, all on loopback:

- a throwaway PostgreSQL cluster (`initdb -A trust` in a temporary directory, `pg_ctl` on a
  free 127.0.0.1 port; under root the cluster belongs to the unprivileged system user
  `keyward-pg`, as crates/pg-cluster does it, and every PostgreSQL program runs through
  `runuser`);
- the `kinde-sandbox` binary on 127.0.0.1:0 (its address, client id and secret read from what it
  prints);
- the `keyward-server` debug binary against both, plain HTTP on 127.0.0.1 (`migrate`, then
  `serve`), syncing every `sync_interval` seconds;
- three members: operator A `alice`, operator B `bob`, viewer C `carol`, each with the personal
  access token `member add --json` printed once (`TeamServer.tokens`).

`TeamServer.stop()` (or leaving the `with` block) stops the server, the sandbox and the cluster
and removes every file. The server's log (stderr) is kept in `server_log` for the secret grep;
`pg_dump()` answers the database's dump.

`cli(args, token=..., home=...)` runs the real `keyward` binary with a member's token
(`KEYWARD_TOKEN`, never stored) in a KEYWARD_HOME of its own and no reachable keyring.

Binaries: `target/debug/{keyward-server,kinde-sandbox,keyward}` (scripts/e2e.sh builds them), or
the paths in KEYWARD_SERVER_BIN, KINDE_SANDBOX_BIN, KEYWARD_CLI_BIN.
"""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from harness import free_port, wait_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_USER = "keyward-pg"
# The sandbox's fixture organization and API (crates/kinde-sandbox/src/seed.rs): a key created
# in the tests belongs to them.
EMPTY_ORG_CODE = "org_1ccfb819462"
EMPTY_API_ID = "7ccd126599aa422a771abcb341596881"
MEMBERS = (("alice", "operator"), ("bob", "operator"), ("carol", "viewer"))


def _bin(env_name: str, name: str) -> str:
    path = os.environ.get(env_name) or os.path.join(ROOT, "target", "debug", name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is not built (scripts/e2e.sh builds it: scripts/test-build.sh)")
    return path


def server_bin() -> str:
    return _bin("KEYWARD_SERVER_BIN", "keyward-server")


def sandbox_bin() -> str:
    return _bin("KINDE_SANDBOX_BIN", "kinde-sandbox")


def cli_bin() -> str:
    return _bin("KEYWARD_CLI_BIN", "keyward")


def _pg_bin_dir() -> str:
    if os.environ.get("KEYWARD_PG_BIN"):
        return os.environ["KEYWARD_PG_BIN"]
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise RuntimeError("PostgreSQL is not installed (scripts/deps.sh installs Debian's postgresql)")


class PgCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (see the module docs)."""

    def __init__(self):
        self.bin = _pg_bin_dir()
        self.as_user = PG_USER if os.geteuid() == 0 else None
        if self.as_user and subprocess.run(["id", PG_USER], capture_output=True).returncode != 0:
            r = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                capture_output=True,
                text=True,
            )
            if r.returncode not in (0, 9):  # 9: created meanwhile by another process
                raise RuntimeError(f"useradd {PG_USER}: {r.stderr.strip()}")
        self.dir = tempfile.mkdtemp(prefix="keyward-e2e-pg-")
        os.chmod(self.dir, 0o755)
        if self.as_user:
            shutil.chown(self.dir, user=self.as_user)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self._run("initdb", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D", self.data)
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60",
                  "-o", opts, "start")
        self._run("psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                  "-c", "CREATE DATABASE keyward")

    def _cmd(self, prog: str, *args: str) -> list:
        path = os.path.join(self.bin, prog)
        return (["runuser", "-u", self.as_user, "--", path] if self.as_user else [path]) + list(args)

    def _run(self, prog: str, *args: str) -> str:
        r = subprocess.run(self._cmd(prog, *args), cwd=self.dir, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{prog} {' '.join(args)} failed: {r.stderr.strip()} {r.stdout.strip()}")
        return r.stdout

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/keyward"

    def dump(self) -> str:
        """`pg_dump` of the server's database, as text."""
        return self._run("pg_dump", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "keyward")

    def stop(self) -> None:
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(self._cmd("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"),
                           cwd=self.dir, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class TeamServer:
    """A running team: PostgreSQL, the sandbox, keyward-server and three members (module docs)."""

    def __init__(self, keys: int = 3, sync_interval: int = 1, sandbox_args=()):
        self.keys = keys
        self.sync_interval = sync_interval
        self.sandbox_args = list(sandbox_args)
        self.pg = None
        self.sandbox = None
        self.server = None
        self.work = tempfile.mkdtemp(prefix="keyward-e2e-team-")
        self.server_log = os.path.join(self.work, "server.log")
        self.tokens = {}
        # Every secret of the run (the tokens, the Kinde client secret; a test adds each key
        # secret it sees): none may be in the database's dump or the server's log.
        self.secrets = []
        self.roles = dict(MEMBERS)
        self.base_url = ""
        self.sandbox_url = ""
        self.client_id = ""
        self.client_secret = ""

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- start ------------------------------------------------------------------------------

    def start(self) -> "TeamServer":
        self.pg = PgCluster()
        self._start_sandbox()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server("migrate", check=True)
        for name, role in MEMBERS:
            r = self._server("member", "add", name, "--role", role, "--json", check=True)
            self.tokens[name] = json.loads(r.stdout)["token"]
            self.secrets.append(self.tokens[name])
        self.secrets.append(self.client_secret)
        log = open(self.server_log, "w")
        self.server = subprocess.Popen([server_bin(), "serve"], env=self._server_env(), cwd=self.work,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_port(self.port, 60)
        end = time.time() + 60
        while time.time() < end:
            if self.server.poll() is not None:
                raise RuntimeError(f"keyward-server exited {self.server.returncode}: {self.log()}")
            if self.healthz() is not None:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"keyward-server never answered /healthz: {self.log()}")

    def _start_sandbox(self) -> None:
        args = [sandbox_bin(), "--listen", "127.0.0.1:0", "--seed", "empty", "--keys", str(self.keys),
                "--rng-seed", "7", *self.sandbox_args]
        out = open(os.path.join(self.work, "sandbox.out"), "w+")
        self.sandbox = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        cwd=self.work)
        end = time.time() + 60
        fields = {}
        while time.time() < end and not {"listening on", "client id", "client secret"} <= fields.keys():
            if self.sandbox.poll() is not None:
                break
            out.seek(0)
            for line in out.read().splitlines():
                if line.startswith("listening on "):
                    fields["listening on"] = line[len("listening on "):].strip()
                elif ":" in line:
                    k, _, v = line.partition(":")
                    fields[k.strip()] = v.strip()
            time.sleep(0.05)
        out.close()
        if "client secret" not in fields:
            raise RuntimeError("kinde-sandbox did not start: "
                               + open(os.path.join(self.work, "sandbox.out")).read())
        self.sandbox_url = fields["listening on"]
        self.client_id = fields["client id"]
        self.client_secret = fields["client secret"]

    def _server_env(self) -> dict:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "KEYWARD_HOME": os.path.join(self.work, "server-home"),
            "KEYWARD_SERVER_LOG": os.environ.get("KEYWARD_SERVER_LOG", "info"),
            "KEYWARD_SERVER_DATABASE_URL": self.pg.url,
            "KEYWARD_SERVER_LISTEN": f"127.0.0.1:{self.port}",
            "KEYWARD_SERVER_KINDE_DOMAIN": self.sandbox_url,
            "KEYWARD_SERVER_KINDE_CLIENT_ID": self.client_id,
            "KEYWARD_SERVER_KINDE_CLIENT_SECRET": self.client_secret,
            "KEYWARD_SERVER_SYNC_INTERVAL": str(self.sync_interval),
        }
        return env

    def _server(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        r = subprocess.run([server_bin(), *args], env=self._server_env(), cwd=self.work,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"keyward-server {' '.join(args[:2])} exited {r.returncode}: {r.stderr.strip()}")
        return r

    # --- while it runs ----------------------------------------------------------------------

    def healthz(self):
        """`/healthz` as JSON, or None while it does not answer 200."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as r:
                return json.loads(r.read() or b"{}")
        except Exception:
            return None

    def op(self, name: str, args=None, member: str = "alice"):
        """`POST /api/v1/ops/{name}` as `member`: (HTTP status, JSON answer)."""
        req = urllib.request.Request(
            f"{self.base_url}/api/v1/ops/{name}",
            data=json.dumps(args or {}).encode(),
            headers={"Authorization": f"Bearer {self.tokens[member]}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def wait_keys(self, n: int, timeout: float = 60) -> list:
        """The team's keys once the server's sync has at least `n` (polls keys_changed_since)."""
        end = time.time() + timeout
        keys = []
        while time.time() < end:
            status, body = self.op("keys_changed_since", {"since_rev": 0})
            if status == 200:
                keys = [k for k in body["keys"] if not k.get("gone")]
                if len(keys) >= n:
                    return keys
            time.sleep(0.2)
        raise AssertionError(f"the server never listed {n} keys (last: {len(keys)})")

    def cli(self, args, member: str = "alice", home: str = None, stdin: str = "", timeout: float = 120):
        """The real `keyward` with `member`'s token in KEYWARD_TOKEN, in KEYWARD_HOME `home`
        (default: one per member under the work dir), no reachable keyring. Returns the
        CompletedProcess (returncode, stdout, stderr as text)."""
        home = home or os.path.join(self.work, f"cli-{member}")
        os.makedirs(home, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "KEYWARD_HOME": home,
            "KEYWARD_TOKEN": self.tokens[member],
            "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/keyward-test-bus",
            "NO_COLOR": "1",
        }
        return subprocess.run([cli_bin(), *args], env=env, input=stdin, capture_output=True, text=True,
                              timeout=timeout)

    def cli_profile(self, member: str, home: str = None, name: str = "team") -> subprocess.CompletedProcess:
        """`keyward profile add NAME --server URL` as `member` (the token checked with /api/v1/me)."""
        r = self.cli(["profile", "add", name, "--server", self.base_url], member=member, home=home)
        if r.returncode != 0:
            raise AssertionError(f"profile add as {member} exited {r.returncode}: {r.stderr}")
        return r

    def log(self) -> str:
        try:
            return open(self.server_log, encoding="utf-8", errors="replace").read()
        except OSError:
            return ""

    def pg_dump(self) -> str:
        return self.pg.dump()

    # --- stop -------------------------------------------------------------------------------

    def stop(self) -> None:
        for p in (self.server, self.sandbox):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.server = self.sandbox = None
        if self.pg is not None:
            self.pg.stop()
            self.pg = None
        shutil.rmtree(self.work, ignore_errors=True)
