#!/usr/bin/env bash
# Installs every build, test and demo dependency of uda from Debian packages.
# Idempotent and quick when everything is already present (one dpkg query).
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libpng-dev zlib1g-dev libopencv-imgproc-dev libjpeg62-turbo-dev libssl-dev
  libjs-chart.js chromium
  python3-torch python3-torchvision python3-numpy python3-h5py python3-pil
  dataset-fashion-mnist
  slurm-wlm munge slurm-wlm-basic-plugins
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
