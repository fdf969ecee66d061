# Aegis — the two commands a new user needs:
#   make demo   install what is missing, build, start a demo server with sample models
#   make test   install what is missing, build (release + ASan/UBSan), lint, run every test
# Other targets: build, build-asan, lint, format, format-check, tidy, unit, integration,
# fuzz, thread-safety, bench, onnxruntime, clean.

JOBS ?= $(shell nproc)
PYTHON := /usr/bin/python3
RELEASE := build/release
ASAN := build/asan
FUZZ := build/fuzz
BROWSER := tests/browser
ONNXRUNTIME := runtime/onnxruntime

.PHONY: all deps build build-asan lint format format-check tidy unit integration fuzz thread-safety test demo bench clean \
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

# clang-format in check mode over every tracked C++ file, clang-tidy (.clang-tidy) over
# every unit of the release build; results cached in build/lint. See scripts/lint.sh.
# clang-tidy reads the compile database and the generated dashboard source only.
lint: deps $(RELEASE)/build.ninja
	ninja -C $(RELEASE) aegis_dashboard_assets
	JOBS=$(JOBS) bash scripts/lint.sh

format-check: deps
	bash scripts/lint.sh format

# clang-tidy over the production units only (no tests, test helpers, benchmarks or
# fuzz targets; `make lint` checks those too), to keep `make test` within its time.
# It needs only the release compile database and the generated dashboard source, not
# the release build. .clang-tidy turns on -Wthread-safety, so this run also proves the
# lock annotations (what `make thread-safety` checks with a clang build).
tidy: deps $(RELEASE)/build.ninja
	ninja -C $(RELEASE) aegis_dashboard_assets
	JOBS=$(JOBS) bash scripts/lint.sh tidy --production

# Rewrites every tracked C++ file in the .clang-format style.
format:
	git ls-files -z -- '*.h' '*.cc' | xargs -0 -r -P $(JOBS) -n 16 clang-format-14 -i

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
# They run the server and the confinement harness only, so only those are built:
# the release build's unit tests and benchmarks would double what `make test`
# compiles (the unit tests run in the ASan build).
integration: deps $(RELEASE)/build.ninja $(BROWSER)/node_modules/.package-lock.json onnxruntime
	ninja -C $(RELEASE) -j $(JOBS) aegis aegis_run_model
	AEGIS_BIN=$(CURDIR)/$(RELEASE)/src/cli/aegis $(PYTHON) -m pytest -q -rs tests/integration

# libFuzzer targets for the parsers of untrusted bytes, FUZZ_SECONDS each (default 20),
# one per core at a time (FUZZ_JOBS).
fuzz: deps $(FUZZ)/build.ninja
	ninja -C $(FUZZ) -j $(JOBS) aegis_fuzzers
	bash scripts/fuzz.sh

# Clang's -Wthread-safety over every module with annotated locks. The fuzz build
# is the clang build; the fuzzers alone do not compile all of those modules. Not part
# of `make test`: its tidy step runs the same analysis (.clang-tidy's -Wthread-safety).
thread-safety: deps $(FUZZ)/build.ninja
	ninja -C $(FUZZ) -j $(JOBS) aegis_thread_safety

# The format check first: a slip fails in seconds, before the long suites. Then the
# unit tests, the fuzzers and the integration tests, with the production clang-tidy
# run (`tidy`) beside all three at the lowest CPU priority: the suites spend much of
# their time waiting on sockets, timers and the processes they start, and clang-tidy
# takes that idle CPU and yields it whenever a build or a test wants it. Its report
# is printed last; a failure of either fails the target, and a failed suite stops
# clang-tidy at once. clang-tidy runs in a session of its own, so that stopping it
# stops all of it (the script and its parallel clang-tidy processes). With the
# kernel's autogroup scheduling a new session is a scheduling group of its own, and
# a process's nice value only ranks it inside its group: the group itself is set to
# nice 19 (/proc/self/autogroup), or clang-tidy would take an equal share. The tidy
# step covers the production units and the thread-safety annotations; `make lint`
# (every unit) and `make thread-safety` are for developers.
test: format-check $(RELEASE)/build.ninja
	ninja -C $(RELEASE) aegis_dashboard_assets
	@mkdir -p build/lint
	JOBS=$(JOBS) setsid bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null; exec nice -n 19 bash scripts/lint.sh tidy --production' \
	  >build/lint/tidy-beside.log 2>&1 & \
	  tidy=$$!; trap 'kill -- -$$tidy 2>/dev/null' INT TERM; \
	  $(MAKE) --no-print-directory unit fuzz integration; status=$$?; \
	  if [ $$status -ne 0 ]; then kill -- -$$tidy 2>/dev/null; fi; \
	  wait $$tidy || status=1; cat build/lint/tidy-beside.log; exit $$status

demo: build
	bash scripts/demo.sh

bench: build
	bash bench/run_bench.sh

clean:
	rm -rf build
