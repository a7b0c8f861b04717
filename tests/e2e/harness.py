"""What the e2e tests and the benchmarks that drive the real app share: loopback ports, and the
in-page scripts that time a frame."""

import shutil
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {port}")


def start_tauri_driver(log, env=None) -> tuple[subprocess.Popen, int]:
    """Starts tauri-driver on two free loopback ports and answers (process, port) once both
    listen: tauri-driver's own and WebKitWebDriver's, which tauri-driver starts beside it. A new
    session sent before WebKitWebDriver listens is forwarded to a closed port and fails
    (measured: "tcp connect error ... Connection refused" in the driver's log, the session
    request answered with a closed connection)."""
    port, native = free_port(), free_port()
    proc = subprocess.Popen(
        [shutil.which("tauri-driver") or "tauri-driver", "--port", str(port), "--native-port", str(native)],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_port(port)
        wait_port(native)
    except Exception:
        proc.kill()
        proc.wait(10)
        raise
    return proc, port


# Scrolls the keys table from top to bottom in 30 animation frames; answers each frame's time (ms).
SCROLL_FRAMES = """
const done = arguments[arguments.length - 1];
const body = document.querySelector('[data-testid="keys-table"] .body');
const times = []; let last = performance.now(); let i = 0;
function step() {
  body.scrollTop = (i / 30) * body.scrollHeight;
  const now = performance.now(); times.push(now - last); last = now;
  if (++i <= 30) requestAnimationFrame(step); else done(times);
}
requestAnimationFrame(step);
"""


def frame_percentiles(frames: list) -> tuple:
    """p50 and p95 of SCROLL_FRAMES' answer (the first frame, before any scroll, left out)."""
    f = sorted(frames[1:])
    return f[len(f) // 2], f[int(len(f) * 0.95) - 1]
