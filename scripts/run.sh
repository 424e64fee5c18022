#!/usr/bin/env bash
# The main job: set up .venv and run the hello example locally on the process driver (no Docker needed):
# a local ALB on http://127.0.0.1:8080 in front of two tasks, until Ctrl-C (then an ordered shutdown).
# Extra arguments go to `albfargate up` (e.g. --detach).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "cdk,fast,backing,s3"
exec .venv/bin/albfargate up examples/hello --driver process "$@"
