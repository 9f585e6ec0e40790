#!/usr/bin/env bash
# Installs the Debian packages that the browser, PostgreSQL and Spark tests need, if missing:
# chromium (driven by Playwright, which must not download a browser), postgresql, and a
# headless Java runtime for pyspark (Spark 4 needs Java 17 or 21: Debian 12 ships 17); and
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
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1 || true)
[ "${java_major:-0}" -ge 17 ] 2>/dev/null || need+=(openjdk-17-jre-headless)
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
