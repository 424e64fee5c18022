#!/usr/bin/env bash
# Set up .venv with the dev extras (+ Node 22 in .tools) and run the test suite.
#   bash scripts/test.sh [PYTEST ARGS...]
# pytest's own exit code is returned; 5 (no tests collected) is a failure, never a pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "dev"
if [ -x .tools/node_modules/node/bin/node ] && [ -z "${JSII_NODE:-}" ]; then
  export JSII_NODE="$PWD/.tools/node_modules/node/bin/node"
fi
# Lint and types first (fast): ruff on everything, mypy --strict on src/ (pyproject's [tool.mypy]).
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "albfargate: pytest collected no tests (exit 5): failing" >&2
fi
exit "$rc"
