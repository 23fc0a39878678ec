#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, runs the built-in synthetic benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_dependencies.sh
bash scripts/build.sh
./build/promptgrid demo "$@"
