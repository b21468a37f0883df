"""Open every page of the built book in headless Chromium, offline, and check it as a reader would.

Run ``python tools/site_check.py`` from the repository root (``make site-check`` does). It

1. builds the site from the notebooks' STORED outputs (execution off, so no chapter runs twice)
   into ``_build/site-check/_build/html``, with ``--warningiserror``;
2. starts the system Chromium headless with the network switched off (a dead proxy, a resolver
   that resolves nothing, and DevTools' offline mode) and drives it over the DevTools protocol
   with ``websocket-client`` (already pinned in requirements.txt);
3. opens every page and fails on: a console error or uncaught exception; any request that leaves
   the machine (anything but ``file:``/``data:``); an internal link whose file or ``#anchor`` does
   not exist; an image that does not load; mathematics MathJax did not typeset (raw ``$$``,
   ``\\(``, ``\\[`` left in the text, no MathJax output, a TeX error, or a displayed formula
   wider than the text column, which the reader sees cut off); a cell output showing a
   traceback, a "not measured"/"skipped" placeholder or a Markdown table left as text;
4. saves a full-page screenshot of each page into ``_build/site-check/screenshots/`` for a human.

Options: ``--no-build`` checks an existing build, ``--html DIR`` checks another build (e.g. the
reader's ``_build/html`` after ``make book``). Exit status 0 when every page passes, 1 otherwise,
2 when Chromium is missing.
"""

from __future__ import annotations

import argparse
import base64
import html.parser
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import websocket
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "site-check"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW_TO_GET_CHROMIUM = (
    "The browser check needs Chromium (or Chrome) on the PATH and found none. Install it with "
    "your system's package manager, e.g. `sudo apt-get install chromium` on Debian/Ubuntu, "
    "`sudo dnf install chromium` on Fedora, `brew install --cask chromium` on macOS; or set "
    "CHROMIUM=/path/to/chrome."
)
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1280,900",
    # Network off: every http(s) request goes to a proxy that does not exist, and no host name
    # resolves. DevTools' offline mode (below) is the third lock.
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-port=0",
]
LOCAL_SCHEMES = ("file", "data", "blob", "about")
PLACEHOLDER = re.compile(r"\b(not measured|skipped)\b", re.IGNORECASE)
# A Markdown table's delimiter row left in an output's text: the table was not rendered.
RAW_TABLE = re.compile(r"\|\s*(?:-{3,}|—+)\s*\|\s*(?:-{3,}|—+)\s*\|")
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{")
# What the page reports about itself once it has loaded and MathJax has finished.
PROBE = r"""
(async () => {
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise, wait(20000)]);
  }
  await Promise.race([document.fonts.ready, wait(5000)]);
  const prose = document.body.cloneNode(true);
  prose.querySelectorAll(
    'pre, code, script, style, textarea, mjx-container, .cell_input, .highlight'
  ).forEach((e) => e.remove());
  const outputs = Array.from(document.querySelectorAll('.cell_output')).map((o) => o.innerText);
  return {
    title: document.title,
    links: Array.from(document.querySelectorAll('a[href]')).map((a) => a.href),
    images: Array.from(document.images).map((i) => ({
      src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    mathSource: document.querySelectorAll('.math').length,
    mathRendered: document.querySelectorAll('mjx-container').length,
    mathErrors: Array.from(document.querySelectorAll('mjx-merror')).map((e) => e.textContent),
    mathTooWide: Array.from(document.querySelectorAll('mjx-container[display="true"]'))
      .filter((c) => {
        const m = c.querySelector('mjx-math');
        return m && m.getBoundingClientRect().width > c.getBoundingClientRect().width + 1;
      })
      .map((c) => (c.querySelector('mjx-assistive-mml') || c).textContent.slice(0, 60)),
    mathJaxLoaded: !!(window.MathJax && MathJax.startup && MathJax.startup.document),
    prose: prose.textContent,
    outputs: outputs,
    tracebacks: document.querySelectorAll('.cell_output .traceback, .output.error').length,
    height: Math.ceil(document.documentElement.scrollHeight),
  };
})()
"""


class DevTools:
    """A minimal DevTools-protocol client: numbered commands, events collected on the side."""

    def __init__(self, url: str):
        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, timeout: float = 60, **params) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._receive(deadline)
            if msg is None:
                continue
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"{method}: no answer from Chromium within {timeout:.0f} s")

    def wait_for(self, event: str, timeout: float = 60) -> dict:
        for seen in self.events:
            if seen["method"] == event:
                return seen
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._receive(deadline)
            if msg and "method" in msg:
                self.events.append(msg)
                if msg["method"] == event:
                    return msg
        raise TimeoutError(f"no {event} within {timeout:.0f} s")

    def _receive(self, deadline: float) -> dict | None:
        self.ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None

    def close(self) -> None:
        self.ws.close()


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refresh: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            self.refresh = (attrs.get("content") or "").partition("url=")[2].strip() or None


_anchor_cache: dict[Path, _Anchors] = {}


def anchors(path: Path) -> _Anchors:
    if path not in _anchor_cache:
        parser = _Anchors()
        parser.feed(path.read_text(errors="replace"))
        _anchor_cache[path] = parser
    return _anchor_cache[path]


def build_site(out: Path) -> Path:
    """Build the book from the stored notebook outputs (no execution) into ``out``."""
    # the offline MathJax the pages load (idempotent; `make site-check` has usually run it)
    subprocess.run([sys.executable, str(ROOT / "tools" / "fetch_mathjax.py")], check=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    # A fresh build: Sphinx never deletes the pages of documents that left the source tree, and
    # the check must see only what the book builds now.
    shutil.rmtree(out / "_build", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jupyter_book if jupyter_book.exists() else "jupyter-book"), "build", str(ROOT)]
    cmd += ["--path-output", str(out), "--config", str(out / "_config.yml")]
    cmd += ["--warningiserror", "--keep-going", "--quiet"]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-6000:] + done.stderr[-6000:])
        raise SystemExit(f"site check: the book does not build (exit {done.returncode})")
    print(f"built the site from the stored outputs in {time.monotonic() - started:.0f} s")
    return out / "_build" / "html"


def find_chromium() -> str | None:
    import os

    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def start_chromium(binary: str, profile: Path) -> tuple[subprocess.Popen, str]:
    """Start headless Chromium; returns the process and the first page's DevTools URL."""
    proc = subprocess.Popen(
        [binary, *LAUNCH_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"site check: {binary} did not start (exit {proc.poll()})")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    browser = DevTools(f"ws://127.0.0.1:{port}{port_file.read_text().split()[1]}")
    targets = browser.call("Target.getTargets")["targetInfos"]
    page = next(t for t in targets if t["type"] == "page")
    browser.close()
    return proc, f"ws://127.0.0.1:{port}/devtools/page/{page['targetId']}"


def check_links(page: Path, html_dir: Path, links: list[str]) -> list[str]:
    problems = []
    for href in sorted(set(links)):
        url = urlsplit(href)
        if url.scheme != "file":
            continue  # links out of the book are the reader's to follow; they load nothing
        target = Path(unquote(url.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"broken link: {href}")
        elif url.fragment and unquote(url.fragment) not in anchors(target).ids:
            problems.append(f"missing anchor #{url.fragment} in {target.relative_to(html_dir)}")
    return problems


def check_page(tab: DevTools, page: Path, html_dir: Path, shots: Path) -> list[str]:
    tab.events.clear()
    tab.call("Page.navigate", url=page.as_uri())
    tab.wait_for("Page.loadEventFired", timeout=60)
    report = tab.call(
        "Runtime.evaluate", timeout=60, expression=PROBE, awaitPromise=True, returnByValue=True
    )
    if "exceptionDetails" in report:
        return [f"probe failed: {report['exceptionDetails']}"]
    info = report["result"]["value"]
    problems = []
    for event in tab.events:
        method, params = event["method"], event["params"]
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            problems.append(f"console {params['type']}: {text[:300]}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            problems.append(f"uncaught exception: {str(text)[:300]}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            problems.append(f"console error: {entry['text'][:200]} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if urlsplit(url).scheme not in LOCAL_SCHEMES:
                problems.append(f"loads from the network: {url}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            problems.append(f"failed to load: {params.get('errorText')} ({params['requestId']})")
    problems += check_links(page, html_dir, info["links"])
    problems += [f"image does not load: {img['src']}" for img in info["images"] if not img["ok"]]
    if info["mathSource"] and not info["mathJaxLoaded"]:
        problems.append(f"MathJax did not load: {info['mathSource']} formulas shown as raw TeX")
    elif info["mathSource"] and not info["mathRendered"]:
        problems.append(f"MathJax rendered none of the page's {info['mathSource']} formulas")
    problems += [f"TeX error in a formula: {text[:120]}" for text in info["mathErrors"]]
    problems += [f"formula wider than the page (cut off): {t}" for t in info["mathTooWide"]]
    raw = list(RAW_TEX.finditer(info["prose"]))
    for match in raw[:3]:
        context = info["prose"][max(0, match.start() - 60) : match.end() + 60]
        problems.append(f"raw TeX in the text: …{' '.join(context.split())}…")
    if len(raw) > 3:
        problems.append(f"raw TeX in the text: {len(raw) - 3} more")
    if info["tracebacks"]:
        problems.append(f"{info['tracebacks']} cell output(s) show an error")
    for output in info["outputs"]:
        if "Traceback (most recent call last)" in output:
            problems.append(f"cell output shows a traceback: {output[:200]}")
        if RAW_TABLE.search(output):
            problems.append(f"cell output shows an unrendered Markdown table: {output[:120]}")
        for match in PLACEHOLDER.finditer(output):
            context = output[max(0, match.start() - 80) : match.end() + 80]
            problems.append(f"cell output shows a placeholder: …{' '.join(context.split())}…")
    save_screenshot(tab, info["height"], shots / screenshot_name(page, html_dir))
    return problems


def screenshot_name(page: Path, html_dir: Path) -> str:
    return page.relative_to(html_dir).with_suffix("").as_posix().replace("/", "__") + ".png"


def save_screenshot(tab: DevTools, height: int, path: Path) -> None:
    height = max(900, min(height, 16000))  # Chromium cannot paint taller than 16384 px
    clip = {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}
    shot = tab.call(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        optimizeForSpeed=True,
        clip=clip,
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def pages_of(html_dir: Path) -> list[Path]:
    skip = {"_static", "_sources", "_images", "_downloads"}
    return sorted(
        p for p in html_dir.rglob("*.html") if not skip & set(p.relative_to(html_dir).parts)
    )


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--html", type=Path, help="check this built site instead of building one")
    args.add_argument("--no-build", action="store_true", help="reuse the last site-check build")
    args.add_argument("--screenshots", type=Path, default=OUT / "screenshots", help="PNG folder")
    args = args.parse_args(argv)
    started = time.monotonic()
    binary = find_chromium()
    if binary is None:
        print(HOW_TO_GET_CHROMIUM, file=sys.stderr)
        return 2
    if args.html:
        html_dir = args.html.resolve()
    elif args.no_build:
        html_dir = OUT / "_build" / "html"
    else:
        html_dir = build_site(OUT)
    if not (html_dir / "index.html").is_file():
        raise SystemExit(f"site check: no built site in {html_dir}")
    shots = args.screenshots.resolve()
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="site-check-chromium-") as profile:
        proc, page_url = start_chromium(binary, Path(profile))
        try:
            tab = DevTools(page_url)
            for domain in ("Page", "Runtime", "Log", "Network"):
                tab.call(f"{domain}.enable")
            tab.call(
                "Network.emulateNetworkConditions",
                offline=True,
                latency=0,
                downloadThroughput=-1,
                uploadThroughput=-1,
            )
            tab.call("Network.setCacheDisabled", cacheDisabled=True)
            pages = pages_of(html_dir)
            for page in pages:
                name = page.relative_to(html_dir).as_posix()
                page_start = time.monotonic()
                redirect = anchors(page).refresh
                if redirect:  # a meta-refresh stub: check where it points, nothing to render
                    target = (page.parent / redirect.split("#")[0]).resolve()
                    problems = [] if target.is_file() else [f"redirects to missing {redirect}"]
                else:
                    problems = check_page(tab, page, html_dir, shots)
                failures += bool(problems)
                seconds = time.monotonic() - page_start
                print(f"{'FAIL' if problems else 'ok  '} {name} ({seconds:.1f} s)")
                for problem in problems:
                    print(f"     {problem}")
            tab.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    elapsed = time.monotonic() - started
    print(f"screenshots: {shots}/")
    print(f"{len(pages) - failures} passed, {failures} failed")
    print(f"site check: {len(pages)} pages in {elapsed:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
