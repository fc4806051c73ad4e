# The two set-up commands of the README:
#   make demo   installs, builds, runs the main job on the embedded default
#   make test   installs, builds, runs every test
#
# TORCH selects the libtorch (docs/TESTING.md):
#   TORCH=debian  Debian's libtorch-dev 1.13, CPU (the default)
#   TORCH=pypi    PyPI's torch 2.x wheel with CUDA and NCCL, installed by
#                 scripts/install-torch2.sh into a virtual environment outside
#                 the checkout, reused across runs (UDA_TORCH2_VERSION,
#                 UDA_TORCH2_VENV choose another version or place)
# `make test-all` runs both; CI does.
TORCH ?= debian
ifeq ($(TORCH),pypi)
BUILD_DIR ?= build-torch2
else ifeq ($(TORCH),debian)
BUILD_DIR ?= build
else
$(error TORCH must be debian or pypi, not '$(TORCH)')
endif
JOBS ?= $(shell nproc)
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=

# ccache: paths relative to the checkout (a fresh clone elsewhere still hits
# the cache) and sloppiness that lets precompiled-header compiles be cached.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_MAXSIZE ?= 10G

.PHONY: deps configure build test test-all demo bench clean

deps:
	@bash scripts/install-deps.sh

configure: deps
ifeq ($(TORCH),pypi)
	@venv=$$(bash scripts/install-torch2.sh) && \
	  torch_root=$$("$$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null) && \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTorch_ROOT="$$torch_root" \
	    $(CMAKE_FLAGS) >/dev/null
else
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
endif

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

test-all:
	@$(MAKE) --no-print-directory test TORCH=debian
	@$(MAKE) --no-print-directory test TORCH=pypi

demo: build
	@$(BUILD_DIR)/uda demo

bench: build
	@bash bench/run_all.sh $(BUILD_DIR)

clean:
	rm -rf build build-torch2
