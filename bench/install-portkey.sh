#!/usr/bin/env bash
# Install Portkey's AI gateway (the npm package @portkey-ai/gateway, Node) for the bench, in
# bench/.portkey (gitignored), pinned to the release the bench was written against.
#
# @hono/node-server is raised to 2.1.11: with the 1.x release its range resolves to (1.19.19, and
# 1.14.2 too on Node 20) the gateway answers every chat completion with a 500 ("TypeError:
# immutable": it appends headers to the upstream's fetch Response, whose headers are immutable;
# Portkey-AI/gateway#1389), which node-server's 2.x copies into a Response of its own.
set -euo pipefail
cd "$(dirname "$0")"
VERSION=${PORTKEY_VERSION:-1.15.2}
mkdir -p .portkey
cat > .portkey/package.json <<JSON
{
  "private": true,
  "dependencies": {"@portkey-ai/gateway": "$VERSION"},
  "overrides": {"@hono/node-server": "2.1.11"}
}
JSON
npm install --silent --no-audit --no-fund --prefix .portkey
node -e "console.log('portkey gateway', require('./.portkey/node_modules/@portkey-ai/gateway/package.json').version, 'installed in bench/.portkey')"
