#!/usr/bin/env bash
# Installs every Debian 12 package gpuorch needs to build, test and benchmark.
# Idempotent; run as root (or with sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git clang-format
  # libraries
  libcli11-dev libcurl4-openssl-dev nlohmann-json3-dev libyaml-cpp-dev libyaml-dev libspdlog-dev libfmt-dev
  libssl-dev libcpp-httplib-dev zlib1g-dev doctest-dev libbenchmark-dev
  # what libcurl's archive links besides OpenSSL and zlib (cmake/Dependencies.cmake, GPUORCH_STATIC_CURL)
  libnghttp2-dev libidn2-dev libpsl-dev libzstd-dev libbrotli-dev
  # test tools: real shells for completions, man page tooling, JSON and SVG checks
  bash-completion zsh fish man-db groff-base scdoc jq librsvg2-bin shellcheck
  # script(1), a pseudo-terminal for the progress-bar test
  bsdutils
  # the README demo talks to the sandbox with curl when kubectl is absent
  curl
  # an HTTP/2 server for the client's HTTP/2 test
  nghttp2-server
  # a foreign CA for the e2e TLS test; the submit-vs-kubectl benchmark driver
  openssl hyperfine
  # promtool (metrics and alert rule checks) and a Pushgateway for the obs tests
  prometheus prometheus-pushgateway
  # packages and the container tree: CPack's .deb (dpkg-shlibdeps, file), lintian, the CA bundle
  dpkg-dev file lintian ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
