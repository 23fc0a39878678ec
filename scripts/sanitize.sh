#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer and UndefinedBehaviorSanitizer (gcc), in build-asan/:
# every library, test and the promptgrid binary the end-to-end tests run. Not part of the test command
# (a second full build, then every test several times slower); run it before changes that touch memory.
#   bash scripts/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_dependencies.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPG_SANITIZE=ON
cmake --build build-asan -j "$(nproc)"
# LibTorch and OpenBLAS keep thread pools and caches alive to the end of the process: their memory is
# reported as leaked at exit, so leak checking is left to the fuzz targets (scripts/fuzz.sh), whose
# code under test has none of them.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 3600
