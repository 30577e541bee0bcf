#!/usr/bin/env bash
# Installs what the tests need from the operating system, if it is missing:
# Debian's chromium (browser tests drive it through Playwright; no browser download works here),
# Debian's PostgreSQL server (tests/postgres runs throwaway servers with its initdb and pg_ctl) and
# Java 17 or newer (the Spark tests run PySpark 4 in local mode, which needs Java 17+).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
# the PostgreSQL suite (tests/postgres) starts throwaway servers from Debian's programs
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)

java_major() {
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  command -v "$java" >/dev/null 2>&1 || { echo 0; return; }
  # 'openjdk version "17.0.15" ...' or 'java version "1.8.0_402"' (Java 8)
  "$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' | head -n 1 |
    awk '{ print ($1 == 1 ? $2 : $1) }'
}
major="$(java_major)"
if [ "${major:-0}" -lt 17 ]; then
  echo "Java ${major:-none} found; the Spark tests need Java 17 or newer" >&2
  need+=(openjdk-17-jre-headless)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi
