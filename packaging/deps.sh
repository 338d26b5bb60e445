#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, test and run the site agent.
# Usage: deps.sh [--tests]   (--tests: also the test-only tools)
# Idempotent: packages already present are skipped, and apt is not touched at all
# when everything is installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev sqlite3 libyaml-cpp-dev libarchive-dev
  libgtest-dev libgmock-dev libcurl4-openssl-dev nlohmann-json3-dev
  libcpp-httplib-dev libcli11-dev libssl-dev libsystemd-dev bubblewrap libseccomp-dev
  ca-certificates curl procps
)
# Only for the tests (`deps.sh --tests`, as tests/run.sh calls it): Debian's Docker
# engine, which the Docker runner's tests start as a private dockerd of their own
# (tests/support/docker_engine.h). The site agent and the demo need no local engine (they
# use the sandbox), so the demo does not install one. lintian checks the .deb
# (PackagingTest); zsh and fish run the generated completions (CompletionTest); groff
# formats the man page (CliManPageTest).
TEST_PACKAGES=(docker.io lintian zsh fish groff-base)
if [ "${1:-}" = "--tests" ]; then
  PACKAGES+=("${TEST_PACKAGES[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]}; run as root (or with sudo) to install them" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
