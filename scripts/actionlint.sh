#!/usr/bin/env bash
# `npm run lint:workflows`: actionlint on .github/workflows/. Uses the actionlint on PATH or
# in Go's bin directory, and installs the pinned version with `go install` when there is none
# (Go >= 1.22; /usr/local/go/bin is searched too).
set -euo pipefail
cd "$(dirname "$0")/.."
version=v1.7.12
PATH="$PATH:/usr/local/go/bin"
if command -v go >/dev/null; then PATH="$PATH:$(go env GOPATH)/bin"; fi
if ! command -v actionlint >/dev/null; then
  command -v go >/dev/null || { echo "lint:workflows: needs actionlint, or Go to install it (https://go.dev/dl/)" >&2; exit 1; }
  echo "lint:workflows: installing actionlint $version (go install)"
  if ! go install "github.com/rhysd/actionlint/cmd/actionlint@$version"; then
    # The Go module proxy may be out of reach (an offline CI runner): say so and skip,
    # unless the caller insists (PLTAP_REQUIRE_ACTIONLINT=1).
    echo "lint:workflows: SKIPPED: could not install actionlint $version with go install (is the Go module proxy reachable?)" >&2
    [ "${PLTAP_REQUIRE_ACTIONLINT:-0}" = 1 ] && exit 1
    exit 0
  fi
fi
actionlint -version | head -n 1
actionlint
echo "lint:workflows: $(ls .github/workflows/*.yml | wc -l) workflow(s) pass actionlint"
