# Aegis — the two commands a new user needs:
#   make demo   install what is missing, build, start a demo server with sample models
#   make test   install what is missing, build (release + ASan/UBSan), run every test
# Other targets: build, build-asan, unit, integration, fuzz, thread-safety, bench, onnxruntime,
# clean.

JOBS ?= $(shell nproc)
PYTHON := /usr/bin/python3
RELEASE := build/release
ASAN := build/asan
FUZZ := build/fuzz
BROWSER := tests/browser
ONNXRUNTIME := runtime/onnxruntime

.PHONY: all deps build build-asan unit integration fuzz thread-safety test demo bench clean \
  onnxruntime

all: build

deps:
	bash scripts/setup.sh

$(RELEASE)/build.ninja:
	cmake -G Ninja -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release

$(ASAN)/build.ninja:
	cmake -G Ninja -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DAEGIS_SANITIZE=ON

$(FUZZ)/build.ninja:
	CXX=clang++-14 cmake -G Ninja -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Debug -DAEGIS_SANITIZE=ON -DAEGIS_FUZZ=ON \
	  -DAEGIS_BUILD_TESTS=OFF

build: deps $(RELEASE)/build.ninja onnxruntime
	ninja -C $(RELEASE) -j $(JOBS)

build-asan: deps $(ASAN)/build.ninja onnxruntime
	ninja -C $(ASAN) -j $(JOBS)

# ONNX Runtime for the ONNX engine worker (runtime/onnxruntime/worker.js), exactly as
# locked. --ignore-scripts: the package's install script would download from the
# internet; its bundled CPU build of libonnxruntime is what the worker loads.
$(ONNXRUNTIME)/node_modules/.package-lock.json: $(ONNXRUNTIME)/package.json $(ONNXRUNTIME)/package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(ONNXRUNTIME)

onnxruntime: $(ONNXRUNTIME)/node_modules/.package-lock.json

# Unit tests run under AddressSanitizer + UndefinedBehaviorSanitizer. ctest shows a
# binary's output only when it fails: the skipped GoogleTest tests and their reasons
# are listed afterwards, so a skip is never silent.
unit: build-asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS); status=$$?; \
	  bash $(CURDIR)/scripts/gtest_skips.sh . || status=1; exit $$status

# playwright-core for the dashboard's browser test, exactly as locked (its install
# scripts would download a browser; Debian's chromium is used instead).
$(BROWSER)/node_modules/.package-lock.json: $(BROWSER)/package.json $(BROWSER)/package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(BROWSER)

# Black-box tests: the real server binary, real TLS, real clients, a real browser.
integration: build $(BROWSER)/node_modules/.package-lock.json
	AEGIS_BIN=$(CURDIR)/$(RELEASE)/src/cli/aegis $(PYTHON) -m pytest -q -rs tests/integration

# libFuzzer targets for the parsers of untrusted bytes, FUZZ_SECONDS each (default 30).
fuzz: deps $(FUZZ)/build.ninja
	ninja -C $(FUZZ) -j $(JOBS) aegis_fuzzers
	bash scripts/fuzz.sh

# Clang's -Wthread-safety over every module with annotated locks. The fuzz build
# is the clang build; the fuzzers alone do not compile all of those modules.
thread-safety: deps $(FUZZ)/build.ninja
	ninja -C $(FUZZ) -j $(JOBS) aegis_thread_safety

test: unit fuzz thread-safety integration

demo: build
	bash scripts/demo.sh

bench: build
	bash bench/run_bench.sh

clean:
	rm -rf build
