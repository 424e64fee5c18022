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
compiled() { .venv/bin/python -c 'import sys, albfargate.alb as a; sys.exit(0 if a.compiled() else 1)'; }
# CI (.ci/run) requires the compiled ALB hot path (scripts/setup.sh builds it): the performance goals are
# measured on it, so a build that stopped working must fail here, not fall back to pure Python unseen.
if [ "${ALBFARGATE_REQUIRE_COMPILED:-}" = "1" ] && ! compiled; then
  echo "albfargate: the compiled ALB hot path is not in use (see .build/compiled/last-failure.log)" >&2
  exit 1
fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
# A full run on the compiled hot path runs the ALB tests once more on the pure-Python one (both ship).
if [ "$rc" -eq 0 ] && [ "$#" -eq 0 ] && compiled; then
  echo "albfargate: the ALB tests again on the pure-Python hot path (ALBFARGATE_COMPILED=0)" >&2
  ALBFARGATE_COMPILED=0 .venv/bin/python -m pytest -q tests/unit/test_alb_*.py tests/integration/test_alb_*.py
  rc=$?
fi
set -e
if [ "$rc" -eq 5 ]; then
  echo "albfargate: pytest collected no tests (exit 5): failing" >&2
fi
exit "$rc"
