#!/usr/bin/env bash
# Installs the Debian packages that the browser and PostgreSQL tests need, if missing:
# chromium (driven by Playwright, which must not download a browser) and postgresql; and
# any further commands named as arguments (`make bench` asks for wrk).
# Needs root (or sudo); where neither is available it says so and the tests that need
# these packages skip with that message.
set -euo pipefail
need=()
for extra in "$@"; do
  command -v "$extra" >/dev/null 2>&1 || need+=("$extra")
done
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "install-system-deps: cannot install ${need[*]} (not root, no sudo); their tests will skip." >&2
  exit 0
fi
echo "install-system-deps: installing ${need[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a cluster on install where it can; Tarozu's tests start their own server.
"${sudo[@]}" service postgresql stop >/dev/null 2>&1 || true
