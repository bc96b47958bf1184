#!/usr/bin/env python3
# Provenance: copied from the project's shared tools/browser_check.py (standard library only) on 2026-12-02;
# changed here only to also report image loading (images_total, images_loaded) for tests/report.
"""Render an HTML file in a real headless Chromium and check it.

HOW TO CALL:  python3 browser_check.py REPORT.html --png out.png [--json] [--expect TEXT ...]
  exit 0 = rendered, no JS errors, page not blank; 1 = JS/console errors or blank page
  (or an --expect text missing); 2 = bad usage / file missing; 3 = no browser could be
  obtained or it failed to start (a test may turn 3 into a skip).

Needs: Python 3 standard library only, plus `npm` + `node` the first time (to fetch the
browser). No Debian packages, no browser download from outside the package registries.

Where the browser comes from:
  * $BROWSER_CHECK_CHROME (or --chrome PATH): use that Chromium/Chrome binary as is.
  * otherwise a cache dir ($BROWSER_CHECK_CACHE, default ~/.cache/headless-chromium):
    on first use `npm pack @sparticuz/chromium@153.0.0` (a headless-shell build of
    Chromium 153 for x86-64 Linux shipped inside an npm package), then the brotli files
    in it are decompressed (Python `brotli` module if importable, else node's zlib) into
    <cache>/sparticuz-153.0.0/. ~210 MB on disk, ~10-20 s once; later runs reuse it.
    If the package tarball is already here, --package-tgz FILE or --package-bin DIR skips npm.

How it drives the browser: Chrome DevTools Protocol over --remote-debugging-pipe (fds 3/4,
NUL-separated JSON), so no websocket library and no TCP port. (Note: with this build the
one-shot `--dump-dom` / `--screenshot` switches hang; the CDP route works.)

What it reports: page title, visible text length (document.body.innerText), counts, and
every error seen: uncaught exceptions, console.error/console.assert, and browser log
entries of level error (e.g. "Failed to load resource"). External network is blocked by
default (--host-resolver-rules) so a report that is not self-contained shows errors
quickly instead of hanging; pass --allow-network to lift that.

Import use:  from browser_check import check; res = check("r.html", png="r.png")
             res["ok"], res["errors"], res["title"], res["text"] ...
"""
from __future__ import annotations

import argparse
import base64
import fcntl
import glob
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

SPARTICUZ_VERSION = os.environ.get("BROWSER_CHECK_SPARTICUZ_VERSION", "153.0.0")
DEFAULT_CACHE = os.environ.get(
    "BROWSER_CHECK_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "headless-chromium")
)

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NO_BROWSER = 0, 1, 2, 3


class BrowserUnavailable(RuntimeError):
    """The browser could not be obtained or started."""


def _log(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"[browser_check] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- fetching

def _brotli_decompress_file(src: str, dst: str) -> None:
    """Decompress a .br file: Python brotli module if present, else node's zlib."""
    try:
        import brotli  # type: ignore

        with open(src, "rb") as f:
            data = brotli.decompress(f.read())
        with open(dst, "wb") as f:
            f.write(data)
        return
    except ImportError:
        pass
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        raise BrowserUnavailable("need either the Python 'brotli' module or 'node' to decompress " + src)
    js = (
        "const z=require('zlib'),fs=require('fs');"
        "const [s,d]=process.argv.slice(-2);"
        "fs.createReadStream(s).pipe(z.createBrotliDecompress({chunkSize:1<<21}))"
        ".pipe(fs.createWriteStream(d)).on('finish',()=>process.exit(0))"
        ".on('error',e=>{console.error(e);process.exit(1)});"
    )
    r = subprocess.run([node, "-e", js, "--", src, dst], capture_output=True, text=True)
    if r.returncode != 0:
        raise BrowserUnavailable(f"node brotli decompression of {src} failed: {r.stderr.strip()}")


def _safe_extract(tf: tarfile.TarFile, dest: str) -> None:
    if hasattr(tarfile, "data_filter"):
        tf.extractall(dest, filter="data")
    else:  # pragma: no cover - older Pythons
        for m in tf.getmembers():
            p = os.path.realpath(os.path.join(dest, m.name))
            if not p.startswith(os.path.realpath(dest) + os.sep) and p != os.path.realpath(dest):
                raise BrowserUnavailable(f"unsafe path in archive: {m.name}")
        tf.extractall(dest)


def _npm_pack(tmp: str, quiet: bool) -> str:
    npm = shutil.which("npm")
    if not npm:
        raise BrowserUnavailable("'npm' not found (needed once to fetch @sparticuz/chromium)")
    spec = f"@sparticuz/chromium@{SPARTICUZ_VERSION}"
    _log(f"npm pack {spec} (first run only) ...", quiet)
    r = subprocess.run(
        [npm, "pack", spec, "--pack-destination", tmp, "--silent", "--prefer-offline"],
        cwd=tmp, capture_output=True, text=True, timeout=900,
    )
    tgzs = glob.glob(os.path.join(tmp, "*.tgz"))
    if r.returncode != 0 or not tgzs:
        # older npm has no --pack-destination: retry plainly in cwd
        r = subprocess.run([npm, "pack", spec, "--silent"], cwd=tmp, capture_output=True, text=True, timeout=900)
        tgzs = glob.glob(os.path.join(tmp, "*.tgz"))
    if not tgzs:
        raise BrowserUnavailable(f"npm pack {spec} failed: {r.stderr.strip()[-2000:]}")
    return tgzs[0]


def ensure_browser(cache_dir: str = DEFAULT_CACHE, package_tgz: str | None = None,
                   package_bin: str | None = None, quiet: bool = False) -> str:
    """Return the path of a Chromium binary, fetching/extracting it into cache_dir if missing."""
    root = os.path.join(cache_dir, f"sparticuz-{SPARTICUZ_VERSION}")
    exe = os.path.join(root, "chromium")
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker) and os.access(exe, os.X_OK):
        return exe
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, ".lock"), "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)  # several test workers may race here
        if os.path.exists(marker) and os.access(exe, os.X_OK):
            return exe
        t0 = time.time()
        staging = tempfile.mkdtemp(prefix=".staging-", dir=cache_dir)
        try:
            bindir = package_bin
            if not bindir:
                tgz = package_tgz or _npm_pack(staging, quiet)
                with tarfile.open(tgz, "r:gz") as tf:
                    members = [m for m in tf.getmembers() if m.name.startswith("package/bin/")]
                    if hasattr(tarfile, "data_filter"):
                        tf.extractall(staging, members=members, filter="data")
                    else:
                        tf.extractall(staging, members=members)
                bindir = os.path.join(staging, "package", "bin")
                if tgz.startswith(staging):
                    os.unlink(tgz)
            if not os.path.exists(os.path.join(bindir, "chromium.br")):
                raise BrowserUnavailable(f"no chromium.br in {bindir}")
            out = os.path.join(staging, "out")
            os.makedirs(out)
            _log("decompressing chromium.br ...", quiet)
            _brotli_decompress_file(os.path.join(bindir, "chromium.br"), os.path.join(out, "chromium"))
            os.chmod(os.path.join(out, "chromium"), 0o755)
            # swiftshader libs go next to the binary (Chromium looks there); fonts and the
            # AL2023 NSS libs into sub-dirs, used only as fallbacks (see _browser_env).
            for name, sub in (("swiftshader.tar.br", ""), ("fonts.tar.br", "fontpack"), ("al2023.tar.br", "al2023")):
                src = os.path.join(bindir, name)
                if not os.path.exists(src):
                    continue
                tarpath = os.path.join(staging, name[:-3])
                _brotli_decompress_file(src, tarpath)
                dest = os.path.join(out, sub) if sub else out
                os.makedirs(dest, exist_ok=True)
                with tarfile.open(tarpath) as tf:
                    _safe_extract(tf, dest)
                os.unlink(tarpath)
            with open(os.path.join(out, ".complete"), "w") as f:
                f.write(f"@sparticuz/chromium {SPARTICUZ_VERSION}\n")
            if os.path.exists(root):
                shutil.rmtree(root)
            os.rename(out, root)
            _log(f"browser ready in {root} ({time.time() - t0:.1f}s)", quiet)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return exe


def _browser_env(exe: str, tmp_home: str) -> dict:
    env = dict(os.environ)
    d = os.path.dirname(os.path.abspath(exe))
    # Fallback shared libs (NSS etc.) only if the system lacks some.
    al = os.path.join(d, "al2023", "lib")
    if os.path.isdir(al):
        try:
            r = subprocess.run(["ldd", exe], capture_output=True, text=True, timeout=30)
            if "not found" in r.stdout:
                env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (env.get("LD_LIBRARY_PATH"), al) if p)
        except (OSError, subprocess.SubprocessError):
            pass
    # Fonts: system fontconfig config + the bundled Open Sans, so text renders even on a
    # machine without any font packages.
    fontdir = os.path.join(d, "fontpack", "fonts")
    if "FONTCONFIG_FILE" not in env and os.path.isdir(fontdir):
        conf = os.path.join(tmp_home, "fonts.conf")
        with open(conf, "w") as f:
            f.write(
                '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
                '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
                f"  <dir>{fontdir}</dir>\n  <cachedir>{os.path.join(tmp_home, 'fc-cache')}</cachedir>\n"
                "</fontconfig>\n"
            )
        env["FONTCONFIG_FILE"] = conf
    env.setdefault("HOME", tmp_home)
    return env


# --------------------------------------------------------------------------- CDP over a pipe

class CDPPipe:
    def __init__(self, argv: list[str], env: dict, stderr_path: str):
        # parent writes -> child fd 3 ; child fd 4 -> parent reads
        c_in_r, self._w = os.pipe()
        self._r, c_out_w = os.pipe()

        def _child_setup() -> None:  # runs in the child between fork and exec
            a = fcntl.fcntl(c_in_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(c_out_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)  # os.dup2 makes 3 and 4 inheritable
            os.close(a)
            os.close(b)

        self._errf = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=self._errf, stderr=self._errf,
            preexec_fn=_child_setup, close_fds=False, start_new_session=True,
        )
        os.close(c_in_r)
        os.close(c_out_w)
        self._q: queue.Queue = queue.Queue()
        self._events: list = []
        self._next_id = 0
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._r, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                self._q.put(None)
                return
            buf += chunk
            while b"\0" in buf:
                msg, buf = buf.split(b"\0", 1)
                try:
                    self._q.put(json.loads(msg))
                except ValueError:
                    pass

    def _pump(self, timeout: float):
        try:
            m = self._q.get(timeout=max(0.01, timeout))
        except queue.Empty:
            return False
        if m is None:
            raise BrowserUnavailable("browser closed the DevTools pipe (crashed or exited)")
        if "id" not in m:
            self._events.append(m)
        return m

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self._next_id += 1
        mid = self._next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._w, data)
            data = data[n:]
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self._pump(deadline - time.time())
            if m and m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError(f"CDP {method} failed: {m['error']}")
                return m.get("result", {})
        raise TimeoutError(f"CDP {method} timed out after {timeout}s")

    def wait_event(self, method: str, timeout: float, session: str | None = None) -> dict | None:
        """Return the first (already seen or new) event `method`, or None on timeout."""
        deadline = time.time() + timeout
        seen = 0
        while True:
            for ev in self._events[seen:]:
                if ev.get("method") == method and (session is None or ev.get("sessionId") == session):
                    return ev
            seen = len(self._events)
            if time.time() >= deadline:
                return None
            self._pump(deadline - time.time())

    def drain(self, seconds: float) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            self._pump(deadline - time.time())

    @property
    def events(self) -> list:
        return self._events

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", timeout=3)
                except Exception:
                    pass
                try:
                    self.proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            # Kill whatever is left in the browser's own process group (only our processes).
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for fd in (self._w, self._r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._errf.close()


# --------------------------------------------------------------------------- the check

_PAGE_INFO_JS = r"""(() => {
  const b = document.body, de = document.documentElement;
  const text = b ? (b.innerText || '') : '';
  let visual = 0;
  for (const el of document.querySelectorAll('img,svg,canvas,video,object,embed,iframe')) {
    const r = el.getBoundingClientRect();
    if (r.width > 1 && r.height > 1) visual++;
  }
  const imgs = Array.from(document.images);
  return {
    imagesTotal: imgs.length,
    imagesLoaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    title: document.title || '',
    text: text,
    textLength: text.trim().length,
    visualElements: visual,
    elementCount: document.getElementsByTagName('*').length,
    readyState: document.readyState,
    url: location.href,
    width: Math.ceil(Math.max(de ? de.scrollWidth : 0, b ? b.scrollWidth : 0)),
    height: Math.ceil(Math.max(de ? de.scrollHeight : 0, b ? b.scrollHeight : 0)),
  };
})()"""


def _remote_obj_text(o: dict) -> str:
    if "value" in o:
        v = o["value"]
        return v if isinstance(v, str) else json.dumps(v)
    pv = o.get("preview")
    if pv and pv.get("properties") is not None and o.get("subtype") != "error":
        inner = ", ".join(f"{q.get('name')}: {q.get('value', q.get('type'))}" for q in pv["properties"])
        more = ", ..." if pv.get("overflow") else ""
        return f"{o.get('description', 'Object')} {{{inner}{more}}}"
    return o.get("description") or o.get("unserializableValue") or o.get("type", "")


def _collect_messages(events: list) -> tuple[list, list]:
    errors, warnings = [], []
    for ev in events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            exc = d.get("exception") or {}
            txt = exc.get("description") or d.get("text", "exception")
            where = f" ({d.get('url', '')}:{d.get('lineNumber', 0) + 1}:{d.get('columnNumber', 0) + 1})"
            errors.append(f"uncaught: {txt}{where}")
        elif m == "Runtime.consoleAPICalled":
            txt = " ".join(_remote_obj_text(a) for a in p.get("args", []))
            if p.get("type") in ("error", "assert"):
                errors.append(f"console.{p.get('type')}: {txt}")
            elif p.get("type") == "warning":
                warnings.append(f"console.warn: {txt}")
        elif m == "Log.entryAdded":
            e = p.get("entry", {})
            txt = f"{e.get('source', 'log')}: {e.get('text', '')}" + (f" ({e['url']})" if e.get("url") else "")
            if e.get("level") == "error":
                errors.append(txt)
            elif e.get("level") == "warning":
                warnings.append(txt)
    return errors, warnings


def check(html: str, png: str | None = None, *, width: int = 1280, height: int = 800,
          full_page: bool = True, timeout: float = 60.0, settle: float = 0.5,
          allow_network: bool = False, webgl: bool = True, chrome: str | None = None,
          cache_dir: str = DEFAULT_CACHE, package_tgz: str | None = None,
          package_bin: str | None = None, quiet: bool = False, keep_log: str | None = None) -> dict:
    """Render `html` (a file path or a URL) and return a result dict (see module doc)."""
    t_start = time.time()
    if "://" in html or html.startswith(("data:", "about:")):
        url = html
    else:
        p = Path(html).resolve()
        if not p.is_file():
            raise FileNotFoundError(html)
        url = p.as_uri()

    exe = chrome or os.environ.get("BROWSER_CHECK_CHROME") or ensure_browser(
        cache_dir, package_tgz, package_bin, quiet)
    if not os.access(exe, os.X_OK):
        raise BrowserUnavailable(f"not executable: {exe}")

    tmp = tempfile.mkdtemp(prefix="browser_check-")
    argv = [
        exe, "--headless", "--no-sandbox", "--no-zygote", "--single-process",
        "--remote-debugging-pipe", f"--user-data-dir={os.path.join(tmp, 'profile')}",
        "--disable-dev-shm-usage", "--disable-extensions", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps",
        "--disable-domain-reliability", "--no-first-run", "--no-default-browser-check",
        "--no-pings", "--mute-audio", "--hide-scrollbars", "--font-render-hinting=none",
        "--force-color-profile=srgb", "--disable-print-preview", "--metrics-recording-only",
        "--disable-features=Translate,MediaRouter,OptimizationHints,AudioServiceOutOfProcess",
        f"--window-size={width},{height}",
    ]
    if webgl:  # CPU WebGL through the bundled SwiftShader (as @sparticuz/chromium does)
        argv += ["--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--ignore-gpu-blocklist", "--in-process-gpu"]
    else:
        argv += ["--disable-gpu", "--disable-webgl"]
    if not allow_network:
        argv.append("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1")
    argv.append("about:blank")

    env = _browser_env(exe, tmp)
    log_path = keep_log or os.path.join(tmp, "chrome.log")
    cdp = None
    try:
        try:
            cdp = CDPPipe(argv, env, log_path)
            cdp.send("Browser.getVersion", timeout=min(timeout, 30))
        except (BrowserUnavailable, TimeoutError, OSError) as e:
            tail = ""
            try:
                tail = Path(log_path).read_text(errors="replace")[-1500:]
            except OSError:
                pass
            raise BrowserUnavailable(f"browser did not start: {e}\n{tail}") from e
        deadline = t_start + timeout
        left = lambda: max(1.0, deadline - time.time())  # noqa: E731

        tid = cdp.send("Target.createTarget", {"url": "about:blank"}, timeout=left())["targetId"]
        sid = cdp.send("Target.attachToTarget", {"targetId": tid, "flatten": True}, timeout=left())["sessionId"]
        for dom in ("Page.enable", "Runtime.enable", "Log.enable"):
            cdp.send(dom, session=sid, timeout=left())
        cdp.send("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                 session=sid, timeout=left())
        n_before = len(cdp.events)
        nav = cdp.send("Page.navigate", {"url": url}, session=sid, timeout=left())
        load_errors = []
        if nav.get("errorText"):
            load_errors.append(f"navigation failed: {nav['errorText']}")
        # wait for the load event that follows our navigation
        loaded = False
        while time.time() < deadline:
            if any(e.get("method") == "Page.loadEventFired" and e.get("sessionId") == sid
                   for e in cdp.events[n_before:]):
                loaded = True
                break
            cdp._pump(deadline - time.time())
        if not loaded:
            load_errors.append(f"load event not fired within {timeout}s")
        # let timers / requestAnimationFrame / fonts settle
        if loaded:
            try:
                cdp.send("Runtime.evaluate", {"expression": "document.fonts ? document.fonts.ready.then(() => 1) : 1",
                                              "awaitPromise": True}, session=sid, timeout=min(10, left()))
            except (TimeoutError, RuntimeError):
                pass
            cdp.drain(min(settle, max(0.0, deadline - time.time())))

        try:
            info = cdp.send("Runtime.evaluate", {"expression": _PAGE_INFO_JS, "returnByValue": True},
                            session=sid, timeout=left() if loaded else 3.0)["result"].get("value", {}) or {}
        except TimeoutError:
            info = {}
            load_errors.append("page did not answer (JS busy / endless loop?)")

        png_written = None
        if png and info:
            shot = {"format": "png", "captureBeyondViewport": bool(full_page)}
            if full_page:
                h = min(max(int(info.get("height") or height), 1), 16000)
                w = min(max(int(info.get("width") or width), width), 16000)
                shot["clip"] = {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}
            data = cdp.send("Page.captureScreenshot", shot, session=sid, timeout=left())["data"]
            Path(png).parent.mkdir(parents=True, exist_ok=True)
            with open(png, "wb") as f:
                f.write(base64.b64decode(data))
            png_written = str(Path(png).resolve())
        cdp.drain(0.05)
        errors, warnings = _collect_messages(cdp.events[n_before:])
        errors = load_errors + errors
        blank = (info.get("textLength", 0) == 0 and info.get("visualElements", 0) == 0)
        return {
            "ok": not errors and not blank,
            "url": url,
            "title": info.get("title", ""),
            "text": info.get("text", ""),
            "text_length": info.get("textLength", 0),
            "visual_elements": info.get("visualElements", 0),
            "images_total": info.get("imagesTotal", 0),
            "images_loaded": info.get("imagesLoaded", 0),
            "element_count": info.get("elementCount", 0),
            "page_size": [info.get("width", 0), info.get("height", 0)],
            "blank": blank,
            "errors": errors,
            "warnings": warnings,
            "png": png_written,
            "browser": exe,
            "seconds": round(time.time() - t_start, 2),
        }
    finally:
        if cdp is not None:
            cdp.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render an HTML file in headless Chromium and check it.")
    ap.add_argument("html", help="HTML file (or a file:/data:/http: URL)")
    ap.add_argument("--png", help="write a screenshot PNG here")
    ap.add_argument("--viewport-only", action="store_true", help="screenshot only the viewport, not the full page")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole render (default 60)")
    ap.add_argument("--settle", type=float, default=0.5, help="seconds to wait after load for late JS (default 0.5)")
    ap.add_argument("--expect", action="append", default=[], metavar="TEXT",
                    help="fail unless TEXT appears in the visible page text (repeatable)")
    ap.add_argument("--text-out", help="write the visible page text (innerText) to this file")
    ap.add_argument("--json", action="store_true", help="print the full result as JSON on stdout")
    ap.add_argument("--allow-network", action="store_true", help="do not block external hosts")
    ap.add_argument("--no-webgl", action="store_true", help="--disable-gpu instead of SwiftShader WebGL")
    ap.add_argument("--chrome", help="use this Chromium binary (default: $BROWSER_CHECK_CHROME or the cached one)")
    ap.add_argument("--cache-dir", default=DEFAULT_CACHE)
    ap.add_argument("--package-tgz", help="use this sparticuz-chromium-*.tgz instead of running npm pack")
    ap.add_argument("--package-bin", help="use this unpacked package/bin dir instead of running npm pack")
    ap.add_argument("--fetch-only", action="store_true", help="just make sure the browser is in the cache")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    if a.fetch_only:
        try:
            print(a.chrome or os.environ.get("BROWSER_CHECK_CHROME")
                  or ensure_browser(a.cache_dir, a.package_tgz, a.package_bin, a.quiet))
            return EXIT_OK
        except BrowserUnavailable as e:
            print(f"browser unavailable: {e}", file=sys.stderr)
            return EXIT_NO_BROWSER
    try:
        res = check(a.html, a.png, width=a.width, height=a.height, full_page=not a.viewport_only,
                    timeout=a.timeout, settle=a.settle, allow_network=a.allow_network,
                    webgl=not a.no_webgl, chrome=a.chrome, cache_dir=a.cache_dir,
                    package_tgz=a.package_tgz, package_bin=a.package_bin, quiet=a.quiet)
    except FileNotFoundError as e:
        print(f"no such file: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrowserUnavailable as e:
        print(f"browser unavailable: {e}", file=sys.stderr)
        return EXIT_NO_BROWSER
    missing = [t for t in a.expect if t not in res["text"]]
    res["missing_expected"] = missing
    if missing:
        res["ok"] = False
    if a.text_out:
        Path(a.text_out).write_text(res["text"], encoding="utf-8")
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"title: {res['title']!r}")
        print(f"visible text length: {res['text_length']}  (elements: {res['element_count']}, "
              f"img/svg/canvas: {res['visual_elements']}, page {res['page_size'][0]}x{res['page_size'][1]})")
        if res["png"]:
            print(f"screenshot: {res['png']}")
        print(f"JS/console errors: {len(res['errors'])}")
        for e in res["errors"]:
            print(f"  ERROR {e}")
        for w in res["warnings"]:
            print(f"  warning {w}")
        if res["blank"]:
            print("BLANK PAGE: no visible text and no img/svg/canvas")
        for t in missing:
            print(f"MISSING expected text: {t!r}")
        print(f"{'OK' if res['ok'] else 'FAIL'} in {res['seconds']}s")
    return EXIT_OK if res["ok"] else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
