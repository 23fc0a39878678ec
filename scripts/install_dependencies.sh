#!/usr/bin/env bash
# Installs the Debian 12 packages promptgrid needs to build and test; skips what is already present.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-openmp   # LibTorch (CPU) and a fast BLAS for it (reference BLAS is ~10x slower)
  libhdf5-dev                        # feature store, learned prompts
  nlohmann-json3-dev libcli11-dev zlib1g-dev
  libyaml-cpp-dev                    # sweep files
  libjpeg62-turbo-dev libpng-dev     # image decoding (worker/image), the libraries PIL uses on Debian 12
  python3-pil python3-numpy          # tests only: tests/image checks the image pipeline against PIL itself
  libopenmpi-dev openmpi-bin         # the coordinator and workers of `promptgrid run` (mpirun)
  slurm-client                       # promptgrid slurm: sbatch, squeue, scontrol, sacct, scancel
  slurmctld slurmd munge             # tests only: a one-node Slurm cluster (tests/slurm_cluster/local_cluster.sh)
  gnuplot-nox                        # few-shot curves (PNG and SVG) under <out>/plots
  texlive-latex-base texlive-latex-recommended  # the test that the LaTeX tables compile (booktabs)
  libgtest-dev libgmock-dev
  clang libclang-rt-14-dev llvm       # libFuzzer and the sanitizers for scripts/fuzz.sh (llvm: symbolized reports)
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_dependencies: all ${#packages[@]} packages present"
  exit 0
fi

echo "install_dependencies: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
