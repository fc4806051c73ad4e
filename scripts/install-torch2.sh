#!/usr/bin/env bash
# Installs PyPI's torch 2.x (the CUDA-enabled Linux wheel: libtorch, CUDA and
# NCCL libraries inside) into a virtual environment OUTSIDE the checkout, and
# reuses it on later runs: the wheels are gigabytes, a machine that has them
# never downloads them again. Prints the environment's path on stdout.
#
#   UDA_TORCH2_VERSION   torch version (default 2.11.0, what the GPU machines run)
#   UDA_TORCH2_VENV      the environment (default ~/.cache/uda/torch-<version>)
#   UDA_TORCH2_PYTHON    an interpreter whose site-packages already hold that
#                        torch (a GPU machine without internet): the environment
#                        is made on top of it, nothing is downloaded
#
# Another version: UDA_TORCH2_VERSION=2.12.0 make test-torch2 (docs/TESTING.md).
set -euo pipefail
version=${UDA_TORCH2_VERSION:-2.11.0}
venv=${UDA_TORCH2_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/uda/torch-$version}

have() { [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$version" <<'PY' >/dev/null 2>&1
import sys, torch
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] else 1)
PY
}

if have; then
  echo "install-torch2: torch $version present in $venv" >&2
  echo "$venv"
  exit 0
fi

# Debian's python3 (the one python3-torch also uses) with its venv module.
if ! /usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "install-torch2: installing python3-venv" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
mkdir -p "$(dirname "$venv")"
if [ -n "${UDA_TORCH2_PYTHON:-}" ]; then
  echo "install-torch2: using the torch of $UDA_TORCH2_PYTHON (no download)" >&2
  "$UDA_TORCH2_PYTHON" -m venv --system-site-packages --without-pip "$venv"
else
  echo "install-torch2: installing torch==$version from PyPI into $venv (about 3 GB, once)" >&2
  # An interrupted earlier attempt leaves a venv whose torch does not import:
  # pip completes it.
  [ -x "$venv/bin/pip" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==$version" >&2
fi
have || { echo "install-torch2: torch $version did not import from $venv" >&2; exit 1; }
echo "install-torch2: done" >&2
echo "$venv"
