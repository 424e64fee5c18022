#!/usr/bin/env bash
# The main job: set up .venv and run the hello example.
# For now: synthesize and describe it. When the local runtime is complete this becomes
#   .venv/bin/albfargate up examples/hello
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "cdk,fast"
.venv/bin/albfargate synth examples/hello
.venv/bin/albfargate describe examples/hello
