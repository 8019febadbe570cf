#!/usr/bin/env bash
# Runs the test suite against the newest aws-cdk-lib the registry offers (the build runs it against
# the peer floor). Works on a copy of the tracked files so the checkout's node_modules stay on the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
copy=.tmp/newest-aws-cdk-lib
rm -rf "$copy" && mkdir -p "$copy"
git ls-files -z | xargs -0 cp --parents -t "$copy"
cp -r assets "$copy/"   # the handler bundle, built by `npx projen bundle`
cd "$copy"
npm ci --no-audit --no-fund --loglevel=error
newest=$(npm view aws-cdk-lib version)
npm install --no-save --no-audit --no-fund --loglevel=error "aws-cdk-lib@$newest"
echo "Testing against aws-cdk-lib $(node -p "require('aws-cdk-lib/package.json').version")"
npx jest --ci --coverage=false
