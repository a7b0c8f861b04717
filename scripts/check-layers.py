#!/usr/bin/env python3
"""Checks that the Rust code's layers point one way: no two files import each other, directly or
in a circle, in any crate of the workspace; and the lower layers of keyward-core and of
keyward-server import nothing above them (see docs/architecture.md).

    python3 scripts/check-layers.py        # a line per crate; exit 1 on a circle or a breach
    python3 scripts/check-layers.py -v     # also every file's imports

An import is every `use crate::..`, `use super::..`, `use self::..`, every inline `crate::a::b` or
`super::x` path, and, in a file that declares `mod x;`, every `x::..` path (a parent naming its
child). A path resolves to the longest module prefix that is a file; `crate::Name` of a
non-module resolves to the crate root, except `crate::name!` of a `#[macro_export]` macro, which
resolves to the file that defines it. `super` inside an inline `mod tests {}` is the file
itself. Declaring a module (`mod x;`) is not an import.
"""
import os
import re
import sys

CRATES = [
    "crates/keyward-core/src",
    "crates/keyward-cli/src",
    "crates/kinde-sandbox/src",
    "crates/keyward-server/src",
    "crates/pg-cluster/src",
    "src-tauri/src",
]

# keyward-core: what each lower layer may import (top-level modules). Everything else (ctx and
# the capabilities) may import these and each other, without circles.
CORE_LOWER = {
    "error": set(),
    "fsutil": {"error"},
    "secret": {"error"},
    "model": {"error", "secret"},
    "config": {"error", "fsutil", "model", "secret"},
    "kinde": {"error", "model", "secret"},
    "store": {"error", "fsutil", "model"},
    "ctx": {"error", "config", "fsutil", "kinde", "model", "secret", "store"},
}


# keyward-server: what each of its lower modules may import (top-level modules of the server;
# keyward-core is another crate, and the server sees only its public API). `serve` wires them
# all together and nothing imports it; `main.rs` is the binary, a crate of its own.
SERVER_LOWER = {
    "metrics": set(),
    "config": set(),
    "pg": set(),
    "lease": {"pg"},
    "deliver": {"config", "lease", "pg"},
    "http": {"lease", "metrics", "pg"},
}

# Circles known and owed a fix: printed as OWED on every run, not failed on (yet). Each names the
# work that owes it. Remove the entry with the fix; a circle not listed here fails the check.
OWED_CIRCLES: dict = {}

LAYERS = {
    "crates/keyward-core/src": CORE_LOWER,
    "crates/keyward-server/src": SERVER_LOWER,
}


def strip(src):
    """Drops comments, string and char literals (a small Rust lexer)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif (
            c == "r"
            and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_"))
            and re.match(r'r#*"', src[i:])
        ):
            hashes = re.match(r'r(#*)"', src[i:]).group(1)
            j = src.find('"' + hashes, i + len(hashes) + 2)
            out.append('""')
            i = j + 1 + len(hashes)
        elif c == '"':
            j = i + 1
            while src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.[^']*|[^\\'])'", src[i:]):
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:])
            out.append("' '")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand(tree):
    """`a::{b, c::{d}}` -> [`a::b`, `a::c::d`]."""
    tree = tree.strip()
    i = tree.find("{")
    if i < 0:
        return [tree]
    head, body = tree[:i], tree[i + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    return [head + q for p in parts if p.strip() for q in expand(p)]


def graph(root):
    """The crate's files (module path -> file) and its import edges."""
    has_lib = os.path.exists(os.path.join(root, "lib.rs"))
    files = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            # A binary beside a library is its own crate: it imports the library by name.
            if not f.endswith(".rs") or (d == root and f == "main.rs" and has_lib):
                continue
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3].split(os.sep)
            if rel[-1] in ("lib", "main", "mod"):
                rel = rel[:-1]
            files[tuple(rel)] = p

    def resolve(mod, segs, inline_self):
        if segs[0] == "crate":
            base, rest = (), segs[1:]
        elif segs[0] == "super":
            base, rest = mod, segs
            while rest and rest[0] == "super":
                base = base if inline_self else base[:-1]
                inline_self = False
                rest = rest[1:]
        elif segs[0] == "self":
            base, rest = mod, segs[1:]
        else:  # a child module named directly
            base, rest = mod, segs
        full = base + tuple(s for s in rest if s not in ("*", "self"))
        for k in range(len(full), -1, -1):
            if full[:k] in files:
                return full[:k]
        return ()

    sources = {}
    for mod, path in files.items():
        with open(path, encoding="utf-8") as fh:
            sources[mod] = strip(fh.read())
    # A `#[macro_export]` macro is named at the crate root (`crate::name!`) but lives in the
    # file that defines it: a path to it points there.
    macros = {
        name: mod
        for mod, src in sources.items()
        for name in re.findall(r"#\[macro_export\]\s*macro_rules!\s*(\w+)", src)
    }
    edges = {m: set() for m in files}
    for mod, path in files.items():
        src = sources[mod]
        children = set(
            re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", src, re.M)
        )
        inline = [m.start() for m in re.finditer(r"\bmod\s+\w+\s*\{", src)]
        for m in re.finditer(r"\buse\s+([^;]+);", src):
            # `x as y` renames: drop the ` as y` before the spaces go (a segment such as
            # `lease` or `database` merely ends in "as...").
            tree = re.sub(r"\s+as\s+[A-Za-z_]\w*", "", m.group(1))
            for p in expand(re.sub(r"\s+", "", tree)):
                segs = [s for s in p.split("::") if s]
                if segs and (segs[0] in ("crate", "super", "self") or segs[0] in children):
                    inl = any(pos < m.start() for pos in inline)
                    t = resolve(mod, segs, inl)
                    if t != mod:
                        edges[mod].add(t)
        code = re.sub(r"\buse\s+[^;]+;", "", src)
        pat = r"\b(crate|super|self|%s)((?:::[A-Za-z_]\w*)+)" % "|".join(
            sorted(children) or ["\0"]
        )
        for m in re.finditer(pat, code):
            segs = [m.group(1)] + [s for s in m.group(2).split("::") if s]
            if segs[0] == "self" and len(segs) < 2:
                continue
            inl = any(pos < m.start() for pos in inline)
            if segs[0] == "crate" and len(segs) == 2 and code[m.end() : m.end() + 1] == "!":
                t = macros.get(segs[1], ())
            else:
                t = resolve(mod, segs, inl)
            if t != mod:
                edges[mod].add(t)
    return files, edges


def circles(edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            c = []
            while True:
                w = stack.pop()
                on.discard(w)
                c.append(w)
                if w == v:
                    break
            sccs.append(c)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return [c for c in sccs if len(c) > 1]


def main():
    verbose = "-v" in sys.argv[1:]
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    failed = False
    for crate in CRATES:
        root = os.path.join(top, crate)
        files, edges = graph(root)
        name = lambda m: files[m][len(root) + 1 :]
        if verbose:
            print(f"== {crate}")
            for m in sorted(edges):
                print(f"  {name(m):24} -> {', '.join(sorted(name(t) for t in edges[m])) or '-'}")
        found = []
        for c in circles(edges):
            names = sorted(name(m) for m in c)
            if (crate, frozenset(names)) in OWED_CIRCLES:
                print(f"{crate}: OWED CIRCLE (known, to be broken): " + " <-> ".join(names))
                continue
            found.append(c)
            print(f"{crate}: CIRCLE: " + " <-> ".join(names))
        breaches = []
        lower = LAYERS.get(crate, {})
        for m, targets in edges.items():
            layer = m[0] if m else None
            if layer not in lower:
                continue
            for t in targets:
                up = t[0] if t else "lib.rs"
                if up != layer and up not in lower[layer]:
                    breaches.append(f"{name(m)} imports {name(t)}")
        for b in sorted(breaches):
            print(f"{crate}: LAYER: {b} (a lower layer imports a higher one)")
        failed |= bool(found or breaches)
        print(
            f"{crate}: {len(files)} files, {sum(map(len, edges.values()))} imports, "
            f"{len(found)} circles, {len(breaches)} layer breaches"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
