#!/usr/bin/env bash
# API compatibility of the freshly compiled assembly (./.jsii) against the newest version on npm.
#
# jsii-diff alone would pass silently twice over: it reports changes to experimental APIs as warnings
# (every API of this package is experimental before 1.0), and it treats a registry it cannot reach
# like a package that does not exist ("Skipping analysis", exit 0). So every change is an error here,
# and the baseline is looked up first: only the registry's own "404 Not Found" means there is nothing
# to compare with (nothing published yet); any other failure to reach it fails the build.
#
# `scripts/compat.sh <assembly>` compares with a given baseline instead (a directory holding a .jsii,
# a .jsii file, or npm:<name>@<version>).
#
# A deliberate break is acknowledged by adding the key jsii-diff prints to .compatignore in the same
# pull request as a `feat!:` commit (or one with a `BREAKING CHANGE:` footer); see CONTRIBUTING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
check() {
  jsii-diff "$1" . --error-on all --keys --ignore-file .compatignore
}

if [ $# -gt 0 ]; then
  echo "compat: comparing the compiled API with $1"
  check "$1"
  exit
fi

name=$(node -p 'require("./package.json").name')

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
if ! baseline=$(npm view "$name" version 2>"$errors"); then
  if grep -q 'E404' "$errors"; then
    echo "compat: $name is not on npm yet: no published API to compare with, nothing checked."
    exit 0
  fi
  cat "$errors" >&2
  echo "compat: could not ask the npm registry for the published $name, so the API was not checked." >&2
  exit 1
fi

echo "compat: comparing the compiled API with $name@$baseline on npm"
check "npm:$name@$baseline"
