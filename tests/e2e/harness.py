"""What the e2e tests and the benchmarks that drive the real app share: loopback ports, and the
in-page scripts that time a frame."""

import socket
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
