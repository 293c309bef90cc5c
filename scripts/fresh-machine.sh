#!/usr/bin/env bash
# Check the README's promise on a fresh machine: on a minimal Debian with only python3,
# `./livebot serve` serves the page and `CI=true bash .ci/run` passes.
#
#   scripts/fresh-machine.sh [--suite SUITE] [--mirror URL] [--dir DIR] [--keep]
#
# Builds a root with `debootstrap --variant=minbase --include=python3` (the suite and
# mirror default to this host's own Debian, read from its apt sources), copies in
# nothing but the package registries' client configuration (apt's sources and Acquire
# settings, pip/uv/npm config files, proxy and index variables) and this host's CA
# certificates, clones the current commit (HEAD; uncommitted changes are not part of
# it) into /root/livebot there, and runs, in a chroot with its own mount and PID
# namespaces (nothing is left running afterwards):
#   1. ./livebot serve, until /readyz and the printed room link answer 200, then SIGTERM;
#   2. CI=true bash .ci/run.
# Exits non-zero if either fails; the last line says which, with pytest's closing line.
# Needs root, git and debootstrap (installed with apt-get if missing); ~1.5 GB in DIR.
set -euo pipefail

here=$(cd -- "$(dirname -- "$0")/.." && pwd)
suite="" mirror="" dir="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) suite=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-machine: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "==> fresh-machine: $*" >&2; }
fail() { echo "fresh-machine: FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot and mounts)"
command -v git >/dev/null || fail "needs git"
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap \
    >/dev/null || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends debootstrap >/dev/null; } \
    || fail "could not install debootstrap"
fi

# This host's Debian archive: the first URI of a deb source that is not the security one.
host_mirror() {
  { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' || true
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk \
      '/^deb / {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; break}}' || true
  } | grep -v -- '-security' | head -n 1 || true
}
[ -n "$suite" ] || suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$mirror" ] || mirror=$(host_mirror)
[ -n "$suite" ] && [ -n "$mirror" ] || fail "give --suite and --mirror (none found in /etc/apt)"
host_suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

commit=$(git -C "$here" rev-parse HEAD)
if [ -n "$(git -C "$here" status --porcelain --untracked-files=no)" ]; then
  say "the work tree has uncommitted changes: they are not part of this check"
fi
[ -n "$dir" ] || dir=$(mktemp -d /var/tmp/livebot-fresh.XXXXXX)
mkdir -p "$dir"
root="$dir/root"
[ ! -e "$root" ] || fail "$root exists already: give another --dir"
cleanup() {
  if [ "$keep" = 1 ]; then say "kept $root"; else rm -rf --one-file-system "$dir"; fi
}
trap cleanup EXIT

t0=$(date +%s)
say "debootstrap --variant=minbase --include=python3 $suite into $root"
debootstrap --variant=minbase --include=python3 "$suite" "$root" "$mirror" \
  >"$dir/debootstrap.log" 2>&1 || { tail -n 20 "$dir/debootstrap.log"; fail "debootstrap"; }
say "root made in $(( $(date +%s) - t0 )) s"

# The registries' client configuration, and the host's CA certificates: nothing else.
copy() { for f in "$@"; do [ -e "$f" ] && mkdir -p "$root$(dirname "$f")" && cp -a "$f" "$root$f"; done; return 0; }
if [ "$suite" = "$host_suite" ]; then
  copy /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list
fi
for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
  [ -f "$f" ] && grep -q 'Acquire::' "$f" && copy "$f"
done
copy /etc/pip.conf /etc/xdg/pip /root/.pip /root/.config/pip /etc/uv /root/.config/uv
copy /etc/npmrc /usr/etc/npmrc /root/.npmrc /etc/resolv.conf
copy /usr/local/share/ca-certificates /etc/ssl/certs/ca-certificates.crt
pass_env=()
for v in http_proxy https_proxy no_proxy all_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY ALL_PROXY \
  PIP_INDEX_URL PIP_EXTRA_INDEX_URL UV_INDEX_URL UV_DEFAULT_INDEX UV_INDEX UV_EXTRA_INDEX_URL \
  npm_config_registry; do
  [ -n "${!v:-}" ] && pass_env+=("$v=${!v}")
done

say "cloning $commit into /root/livebot"
git clone --quiet --no-local "$here" "$root/root/livebot"
git -C "$root/root/livebot" checkout --quiet --detach "$commit"

# What runs inside the chroot: serve until its page answers, then the CI command.
cat >"$root/root/fresh-run.sh" <<'INSIDE'
#!/bin/bash
set -u
cd /root/livebot
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
t0=$(date +%s)
PORT=$port ./livebot serve >/root/serve.log 2>&1 &
serve=$!
serve_ok=0
python3 - "$port" <<'PY' && serve_ok=1
import re, sys, time, urllib.request
port, deadline = sys.argv[1], time.time() + 1200
def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except Exception:
        return None
while time.time() < deadline:
    log = open("/root/serve.log", errors="replace").read()
    link = re.search(r"open (http://\S+)", log)
    if link and get(f"http://127.0.0.1:{port}/readyz") == 200:
        status = get(link.group(1).replace("localhost", "127.0.0.1"))
        print(f"serve: /readyz 200, room link {status}")
        sys.exit(0 if status == 200 else 1)
    if "Traceback" in log or "livebot: error:" in log:
        break
    time.sleep(2)
sys.exit(1)
PY
echo "serve: $(( $(date +%s) - t0 )) s to a working page (first run: installs uv and the deps)"
kill -TERM "$serve" 2>/dev/null; wait "$serve"
if [ "$serve_ok" != 1 ]; then tail -n 40 /root/serve.log; echo "fresh-run: serve FAILED"; exit 1; fi
t0=$(date +%s)
CI=true bash .ci/run 2>&1 | tee /root/ci.log
rc=${PIPESTATUS[0]}
echo "ci: exit $rc in $(( $(date +%s) - t0 )) s"
exit "$rc"
INSIDE
chmod +x "$root/root/fresh-run.sh"

say "running ./livebot serve and CI=true bash .ci/run inside (this takes a while)"
t1=$(date +%s)
set +e
unshare --mount --pid --fork --propagation private /bin/bash -c '
  set -e
  r=$1; shift
  mount -t proc proc "$r/proc"
  mount -t sysfs sys "$r/sys"
  mount --rbind /dev "$r/dev"
  mount -t tmpfs tmpfs "$r/run"
  mount -t tmpfs tmpfs "$r/tmp"
  exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LIVEBOT_IN_FRESH_MACHINE=1 "$@" /root/fresh-run.sh
' fresh "$root" "${pass_env[@]}" 2>&1 | tee "$dir/run.log"
rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - t1 ))
disk=$(du -sh --one-file-system "$root" | cut -f1)
summary=$(grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$dir/run.log" | tail -n 1 | tr -d '=' | xargs || true)
if [ "$rc" = 0 ]; then
  echo "fresh-machine: OK: debian $suite minbase + python3: serve and CI=true bash .ci/run passed (${summary:-no pytest summary}; ${elapsed} s inside, root ${disk})"
else
  echo "fresh-machine: FAILED: debian $suite minbase + python3: exit $rc (${summary:-no pytest summary}; ${elapsed} s inside, root ${disk}; log: $dir/run.log)"
  keep=1
  exit 1
fi
