#!/usr/bin/env bash
# Create (or reuse) the virtual environment at .venv and install albfargate into it (editable), then
# install Node 22 project-locally into .tools (jsii/CDK synth uses it through JSII_NODE).
#   bash scripts/setup.sh [EXTRAS]        EXTRAS defaults to "cdk,fast"; the tests use "dev"
# Re-running is cheap: pip runs again only when pyproject.toml or the extras change.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-cdk,fast}"

pick_python() {
  for py in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 &&
      "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$py"
      return 0
    fi
  done
  echo "albfargate: Python >= 3.11 is required (set PYTHON=/path/to/python3.11+)" >&2
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  PY="$(pick_python)"
  echo "albfargate: creating .venv with $PY" >&2
  rm -rf .venv
  "$PY" -m venv .venv
fi

stamp=".venv/.albfargate-installed-$(echo "$EXTRAS" | tr ',' '-')"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x .venv/bin/albfargate ]; then
  echo "albfargate: installing .[$EXTRAS] into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
  echo "$want" >"$stamp"
fi

# Node 22 for jsii (Node 20 is end-of-life and prints a banner on every synth). Optional: without npm the
# system node is used.
if [ ! -x .tools/node_modules/node/bin/node ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "albfargate: installing node@22 into .tools" >&2
    mkdir -p .tools
    npm install --prefix .tools --no-audit --no-fund --loglevel=error node@22 >&2 ||
      echo "albfargate: warning: could not install node@22 locally; falling back to the system node" >&2
  else
    echo "albfargate: warning: npm not found; synth uses the system node" >&2
  fi
fi

# The tests (tests/e2e/cdk_local: the stock `cdk bootstrap` / `cdk deploy` into a local system) need the
# pinned npm aws-cdk CLI in .tools; `albfargate deploy` installs the same one on first use.
if [[ ",$EXTRAS," == *",dev,"* ]] && command -v npm >/dev/null 2>&1; then
  .venv/bin/python -c 'from albfargate import synth; synth.ensure_cdk_cli()' >&2 ||
    echo "albfargate: warning: could not install the aws-cdk CLI into .tools" >&2
fi

# Optional: the mypyc-compiled ALB hot path (docs/alb.md, "Compiled hot path"), into .build/compiled/ (never
# next to the sources). Best effort: only when mypy (the fast and dev extras) and a C compiler are there, never fails
# setup (the ALB then runs as pure Python), a no-op when the sources did not change. ALBFARGATE_COMPILED=0
# skips it.
if [ "${ALBFARGATE_COMPILED:-}" != "0" ] && command -v "${CC:-cc}" >/dev/null 2>&1 &&
  .venv/bin/python -c 'import mypyc' 2>/dev/null; then
  .venv/bin/python scripts/build_compiled.py >&2 ||
    echo "albfargate: the compiled hot path was not built; the ALB runs as pure Python" >&2
fi
