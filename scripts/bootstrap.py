"""Bootstrap helpers for ./livebot: find or install uv, install Debian packages.

Standard library only, so it runs on a bare ``python3`` (no pip, no venv module).

uv is looked for, in order:

1. ``$LIVEBOT_UV`` (an explicit path), then ``uv`` on ``PATH``;
2. a copy bootstrapped earlier into ``.tools/`` (``.tools/bin/uv`` or ``.tools/pip/bin/uv``);
3. ``python3 -m pip install --target .tools/pip uv==VERSION`` (honours pip's own config);
4. the pinned uv wheel fetched from the package index with urllib, checked against the
   sha256 committed below, its ``uv`` binary unpacked into ``.tools/bin/``.  The index is
   ``$UV_INDEX_URL`` / ``$UV_DEFAULT_INDEX`` / ``$PIP_INDEX_URL`` / pip.conf ``index-url``,
   then any extra indexes and ``find-links`` folders, then the public PyPI simple API.

Usable on its own: ``python3 scripts/bootstrap.py uv`` prints the path of a working uv;
``python3 scripts/bootstrap.py packages scripts/test-packages.txt`` installs what is missing.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import io
import json
import os
import platform
import shutil
import ssl
import stat
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(os.environ.get("LIVEBOT_TOOLS") or ROOT / ".tools").resolve()

UV_VERSION = "0.13.9"
# Wheel file name -> sha256, copied from the index for uv 0.13.9.
UV_WHEELS = {
    "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl": (
        "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19"
    ),
    "uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl": (
        "2c45530751517d6c3bbc69a19473f6effe47cce047bede01ffd8af7ea7b36b25"
    ),
    "uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl": (
        "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe"
    ),
    "uv-0.13.9-py3-none-macosx_10_12_x86_64.whl": (
        "c16ed11e013557536b3e60065f1b912f6407bd6518e041b961e23ef9e6b4fbf5"
    ),
    "uv-0.13.9-py3-none-macosx_11_0_arm64.whl": (
        "66c512266d633bef48384a1f53003f41f2a8e7b36fe6e7fbfd3e0fd52d96fa63"
    ),
}
DEFAULT_INDEX = "https://pypi.org/simple/"


class BootstrapError(RuntimeError):
    """Something the bootstrap cannot fix by itself; the message says what to do."""


def say(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- uv


def _uv_works(path: str | os.PathLike[str]) -> bool:
    try:
        out = subprocess.run(
            [os.fspath(path), "--version"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.startswith("uv ")


def ensure_uv(tools: Path = TOOLS, *, use_path: bool = True, use_pip: bool = True) -> Path:
    """Return the path of a working uv, installing the pinned version if needed."""
    candidates: list[str] = []
    if os.environ.get("LIVEBOT_UV"):
        candidates.append(os.environ["LIVEBOT_UV"])
    if use_path and shutil.which("uv"):
        candidates.append(shutil.which("uv") or "uv")
    candidates += [str(tools / "bin" / "uv"), str(tools / "pip" / "bin" / "uv")]
    for c in candidates:
        if Path(c).exists() and _uv_works(c):
            return Path(c)

    if use_pip:
        path = _uv_from_pip(tools)
        if path:
            return path
    return _uv_from_wheel(tools)


def _uv_from_pip(tools: Path) -> Path | None:
    py = sys.executable or "python3"
    try:
        has_pip = (
            subprocess.run([py, "-m", "pip", "--version"], capture_output=True, timeout=60)
        ).returncode == 0
    except (OSError, subprocess.SubprocessError):
        has_pip = False
    if not has_pip:
        say("no pip for this python; fetching the uv wheel directly")
        return None
    target = tools / "pip"
    say(f"installing uv=={UV_VERSION} with pip into {target}")
    cmd = [py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q"]
    cmd += ["--root-user-action=ignore"]
    cmd += ["--upgrade", "--no-deps", "--target", str(target), f"uv=={UV_VERSION}"]
    if subprocess.run(cmd, stdin=subprocess.DEVNULL, env=network_env()).returncode != 0:
        say("pip could not install uv; fetching the uv wheel directly")
        return None
    uv = target / "bin" / "uv"
    return uv if _uv_works(uv) else None


def _wheel_name() -> str:
    system, machine = platform.system(), platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
    arch_name = arch.get(machine)
    if system == "Linux" and arch_name == "x86_64":
        musl = platform.libc_ver()[0] != "glibc"
        key = "musllinux_1_1_x86_64" if musl else "manylinux_2_17_x86_64"
    elif system == "Linux" and arch_name == "aarch64":
        key = "manylinux_2_17_aarch64"
    elif system == "Darwin":
        key = "macosx_11_0_arm64" if arch_name == "aarch64" else "macosx_10_12_x86_64"
    else:
        raise BootstrapError(
            f"no pinned uv wheel for {system}/{machine}; install uv {UV_VERSION} yourself "
            "(e.g. `pip install uv`) and put it on PATH"
        )
    return next(name for name in UV_WHEELS if key in name)


def _pip_config() -> configparser.ConfigParser:
    """pip's config files, in pip's order (later ones win)."""
    files = [Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf")]
    home = Path.home()
    files += [home / ".pip" / "pip.conf", home / ".config" / "pip" / "pip.conf"]
    if os.environ.get("VIRTUAL_ENV"):
        files.append(Path(os.environ["VIRTUAL_ENV"]) / "pip.conf")
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    cfg = configparser.ConfigParser(interpolation=None)
    for f in files:
        try:
            cfg.read(f)
        except (configparser.Error, OSError):
            pass
    return cfg


def index_sources() -> list[str]:
    """Index URLs (or find-links folders) to try for the uv wheel, best first."""
    env = os.environ
    cfg = _pip_config()

    def conf(key: str) -> list[str]:
        vals: list[str] = []
        for section in ("install", "download", "global"):
            if cfg.has_option(section, key):
                vals += cfg.get(section, key).split()
        return vals

    out: list[str] = []
    for var in ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "PIP_INDEX_URL"):
        out += env.get(var, "").split()
    out += conf("index-url")
    for var in ("UV_EXTRA_INDEX_URL", "UV_INDEX", "PIP_EXTRA_INDEX_URL"):
        out += env.get(var, "").split()
    out += conf("extra-index-url")
    for var in ("UV_FIND_LINKS", "PIP_FIND_LINKS"):
        out += env.get(var, "").replace(",", " ").split()
    out += conf("find-links")
    out.append(DEFAULT_INDEX)
    seen: set[str] = set()
    return [u for u in out if not (u in seen or seen.add(u))]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text.strip()))
            self._href = None


# Where distributions keep the system's CA store as one PEM file (a CA installed for a
# TLS-inspecting proxy lands here too, through update-ca-certificates and its peers).
SYSTEM_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, BSDs
)


def system_ca_bundle() -> str | None:
    """The system's CA store as one PEM file, or None if this system has none."""
    for path in (ssl.get_default_verify_paths().cafile, *SYSTEM_CA_BUNDLES):
        if path and Path(path).is_file():
            return path
    return None


def network_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a network client (uv, pip, pip-audit, npm, apt): the system's
    CA store wherever a client would otherwise use a bundle of its own (pip-audit's
    requests uses certifi's, Node its compiled-in roots, uv webpki-roots); proxy
    variables (HTTPS_PROXY, NO_PROXY, ...) pass through unchanged. A value the user set
    is kept."""
    env = dict(os.environ if base is None else base)
    env.setdefault("UV_SYSTEM_CERTS", "1")
    env.setdefault("UV_NATIVE_TLS", "1")  # the same, for older uv on PATH
    bundle = system_ca_bundle()
    if bundle:
        for var in ("REQUESTS_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS"):
            env.setdefault(var, bundle)
    return env


def ensure_ca_store() -> None:
    """A minimal Debian (debootstrap's minbase, slim images) has no CA store at all: then
    every HTTPS download fails. Install Debian's ca-certificates (which also takes in any
    CA the admin put in /usr/local/share/ca-certificates) before anything is fetched."""
    if system_ca_bundle() is None and shutil.which("apt-get"):
        say("no CA store on this system (no /etc/ssl/certs/ca-certificates.crt)")
        ensure_packages(["ca-certificates"])


def _ssl_context() -> ssl.SSLContext:
    cafile = next(
        (
            os.environ[v]
            for v in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
            if os.environ.get(v) and Path(os.environ[v]).is_file()
        ),
        None,
    )
    return ssl.create_default_context(cafile=cafile or system_ca_bundle())


def _open(url: str, accept: str | None = None, timeout: float = 60) -> tuple[bytes, str]:
    """GET a URL (http(s) with userinfo auth, or file:// incl. folders' index.html)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("", "file"):
        path = Path(urllib.parse.unquote(parts.path))
        if path.is_dir():
            path = path / "index.html"
        return path.read_bytes(), "text/html"
    headers = {"User-Agent": f"livebot-bootstrap (uv {UV_VERSION})"}
    if accept:
        headers["Accept"] = accept
    if parts.username:
        cred = (
            f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        )
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout, context=_ssl_context()) as resp:
        return resp.read(), resp.headers.get("Content-Type", "")


def _find_wheel_url(source: str, filename: str) -> str | None:
    """The URL of ``filename`` in a simple index (PEP 691 JSON or PEP 503 HTML) or folder."""
    parts = urllib.parse.urlsplit(source)
    if parts.scheme in ("", "file"):
        folder = Path(urllib.parse.unquote(parts.path))
        for candidate in (folder / filename, folder / "uv" / filename):
            if candidate.is_file():
                return candidate.resolve().as_uri()
        if not (folder / "uv").exists() and not (folder / "index.html").exists():
            return None
    page = source.rstrip("/") + "/uv/"
    body, ctype = _open(
        page, accept="application/vnd.pypi.simple.v1+json, text/html;q=0.2, */*;q=0.1"
    )
    if "json" in ctype:
        for f in json.loads(body).get("files", []):
            if f.get("filename") == filename:
                return urllib.parse.urljoin(page, f["url"])
        return None
    links = _Links()
    links.feed(body.decode("utf-8", "replace"))
    for href, text in links.links:
        name = urllib.parse.unquote(urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1])
        if filename in (text, name):
            return urllib.parse.urljoin(page, href)
    return None


def _uv_from_wheel(tools: Path) -> Path:
    filename = _wheel_name()
    want = UV_WHEELS[filename]
    errors: list[str] = []
    for source in index_sources():
        try:
            url = _find_wheel_url(source, filename)
            if not url:
                errors.append(f"{_redact(source)}: {filename} not listed")
                continue
            say(f"downloading {filename} from {_redact(url.split('#')[0])}")
            data, _ = _open(url.split("#")[0], timeout=300)
        except Exception as e:  # any network/parse problem: try the next source
            errors.append(f"{_redact(source)}: {e}")
            continue
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            errors.append(f"{_redact(source)}: sha256 mismatch ({got} != {want})")
            continue
        return _unpack_uv(data, tools)
    raise BootstrapError(
        f"could not get uv {UV_VERSION}:\n  "
        + "\n  ".join(errors)
        + "\nInstall uv yourself (pip install uv) or set PIP_INDEX_URL to a reachable index."
    )


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


def _unpack_uv(wheel: bytes, tools: Path) -> Path:
    bindir = tools / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        for member in zf.namelist():
            if member.endswith(".data/scripts/uv"):
                tmp = bindir / f"uv.tmp{os.getpid()}"
                tmp.write_bytes(zf.read(member))
                tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                tmp.replace(bindir / "uv")
                break
        else:
            raise BootstrapError("the uv wheel has no uv binary in it")
    uv = bindir / "uv"
    if not _uv_works(uv):
        raise BootstrapError(f"{uv} was unpacked but does not run")
    say(f"uv {UV_VERSION} installed at {uv}")
    return uv


# ----------------------------------------------------------------- Debian packages


def read_package_list(path: Path) -> list[str]:
    """Package names from a list file: one per line, ``#`` starts a comment."""
    names: list[str] = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def _installed(name: str) -> bool:
    if shutil.which("dpkg-query"):
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", name],
            capture_output=True,
            text=True,
        )
        return out.returncode == 0 and out.stdout.startswith("ii")
    return shutil.which(name) is not None


def missing_packages(names: list[str]) -> list[str]:
    return [n for n in names if not _installed(n)]


def ensure_packages(names: list[str]) -> None:
    """Install the missing Debian packages (as root, or via passwordless sudo)."""
    missing = missing_packages(names)
    if not missing:
        return
    hint = f"missing packages: {' '.join(missing)}; install them with: sudo apt-get install -y {' '.join(missing)}"
    if not shutil.which("apt-get"):
        raise BootstrapError(f"{hint} (no apt-get here: use your system's package manager)")
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"]).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        raise BootstrapError(f"{hint} (not root and no passwordless sudo)")
    env = dict(network_env(), DEBIAN_FRONTEND="noninteractive")
    say(f"installing Debian packages: {' '.join(missing)}")
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
    ):
        if subprocess.run(prefix + cmd, env=env, stdin=subprocess.DEVNULL).returncode != 0:
            raise BootstrapError(f"`{' '.join(prefix + cmd)}` failed; {hint}")
    still = missing_packages(missing)
    if still:
        raise BootstrapError(f"still missing after apt-get install: {' '.join(still)}")


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["uv"]:
            print(ensure_uv(use_path="--no-path" not in argv, use_pip="--no-pip" not in argv))
            return 0
        if argv[:1] == ["packages"] and len(argv) == 2:
            ensure_packages(read_package_list(Path(argv[1])))
            return 0
    except BootstrapError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        "usage: bootstrap.py uv [--no-path] [--no-pip] | bootstrap.py packages LIST",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
