#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs the whole test suite (CTest), then a
# short run of every fuzz target (scripts/fuzz.sh: 8 s each, with ASan and UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_dependencies.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
bash scripts/fuzz.sh 8
