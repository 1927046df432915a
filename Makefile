# pullaccess.aws — developer entry points. `make test` and `make demo` work from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell tests/tools/find-python)
VENV := .venv
BIN := $(VENV)/bin
BUILD := build
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := $(BUILD)/dist/pullaccess-aws-$(VERSION).tar.gz
# The `ansible` package on PyPI carries amazon.aws; Galaxy is not needed.
ANSIBLE_PKG := ansible==14.5.0
AMAZON_AWS := $(BUILD)/amazon.aws/ansible_collections/amazon/aws
# The collection installed the way a user has it: built tarball + amazon.aws beside it.
COLLECTIONS := $(BUILD)/collections
# ansible-test needs a real ansible_collections/<ns>/<name> tree with amazon.aws as a sibling.
AT_ROOT := $(BUILD)/ansible-test/ansible_collections
AT_COLL := $(AT_ROOT)/pullaccess/aws
AT_PYTHON := 3.12

export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLLECTIONS)
export ANSIBLE_NOCOLOR := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv amazon-aws build install sanity units integration emulator lint changelog-lint ee-check policy-lint reliability operator-bench-fleet stress test demo bench clean constraints docs docs-lint docs-test compat compat-readme compat-sanity-oldest test-checks test-aws-suites

help:
	@echo "make test      everything: sanity, units, emulator, integration, reliability, lint"
	@echo "make demo      the main job on embedded, emulated AWS"
	@echo "make bench     API calls and time on emulated AWS, against the AWS CLI procedure"
	@echo "make stress    long reliability suite (20 writers x 3 rounds, faults, every kill point)"
	@echo "make docs      the HTML docsite (antsibull-docs + Sphinx) in build/docs/html"
	@echo "make compat    units + integration targets on every ansible-core from requires_ansible, README table check"
	@echo "make sanity | units | emulator | integration | reliability | operator-bench-fleet | lint | policy-lint | docs-lint | docs-test | build | clean"

$(BIN)/.installed: tests/requirements.txt tests/constraints.txt
	@test -n "$(PYTHON)" || { echo "no Python >= 3.12 found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r tests/requirements.txt -c tests/constraints.txt
	touch $@

venv: $(BIN)/.installed

constraints: venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > tests/constraints.txt

$(AMAZON_AWS)/MANIFEST.json: | $(BIN)/.installed
	rm -rf $(BUILD)/amazon.aws $(BUILD)/wheels
	$(BIN)/python -m pip download --quiet --no-deps --dest $(BUILD)/wheels "$(ANSIBLE_PKG)"
	$(BIN)/python tests/tools/extract_amazon_aws.py $(BUILD)/wheels/ansible-*.whl $(BUILD)/amazon.aws

amazon-aws: $(AMAZON_AWS)/MANIFEST.json

build: venv
	mkdir -p $(BUILD)/dist
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD)/dist .

install: build amazon-aws
	rm -rf $(COLLECTIONS)
	mkdir -p $(COLLECTIONS)/ansible_collections/amazon
	cp -a $(AMAZON_AWS) $(COLLECTIONS)/ansible_collections/amazon/aws
	$(BIN)/ansible-galaxy collection install --offline --no-deps --force -p $(COLLECTIONS) $(TARBALL)

# Copy the tracked and new (not ignored) files into the tree ansible-test wants.
$(AT_COLL): FORCE amazon-aws
	rm -rf $(BUILD)/ansible-test
	mkdir -p $(AT_COLL) $(AT_ROOT)/amazon
	git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C $(AT_COLL)
	# ansible-test lists files with git; inside our checkout build/ is ignored, so give the copy its own.
	cd $(AT_COLL) && git init -q && git add -A
	cp -a $(AMAZON_AWS) $(AT_ROOT)/amazon/aws
	$(BIN)/python tests/tools/offline_get_pip.py

FORCE:

sanity: $(AT_COLL)
	cd $(AT_COLL) && $(CURDIR)/$(BIN)/ansible-test sanity --venv --python $(AT_PYTHON) --color no

units: $(AT_COLL)
	cd $(AT_COLL) && $(CURDIR)/$(BIN)/ansible-test units --venv --python $(AT_PYTHON) --color no

emulator: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning tests/emulator

integration: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning tests/integration

lint: install changelog-lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-lint --profile production

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

# ansible-builder must accept the execution-environment definition (no image build here).
ee-check: build
	rm -rf $(BUILD)/ee-context
	cd execution-environment && $(CURDIR)/$(BIN)/ansible-builder create -f execution-environment.yml --context $(CURDIR)/$(BUILD)/ee-context >/dev/null
	test -f $(BUILD)/ee-context/Containerfile -o -f $(BUILD)/ee-context/Dockerfile

# parliament (an IAM policy linter) over every policy the collection writes or ships, in its own venv:
# it needs pkg_resources, which the test venv's setuptools no longer has. About 5 s once installed.
PARLIAMENT_VENV := $(BUILD)/parliament-venv

$(PARLIAMENT_VENV)/.installed: tests/lint/requirements.txt | $(BIN)/.installed
	rm -rf $(PARLIAMENT_VENV)
	$(BIN)/python -m venv $(PARLIAMENT_VENV)
	$(PARLIAMENT_VENV)/bin/python -m pip install --quiet -r tests/lint/requirements.txt
	touch $@

policy-lint: install $(PARLIAMENT_VENV)/.installed
	PARLIAMENT_PYTHON=$(CURDIR)/$(PARLIAMENT_VENV)/bin/python $(BIN)/python -m pytest -q -s -p no:cacheprovider -W ignore::DeprecationWarning tests/lint

# The bench-size operator policy test runs on its own (make operator-bench-fleet, in the checks lane).
OPERATOR_BENCH_FLEET := tests/reliability/test_operator_bench_fleet.py

reliability: install
	$(BIN)/python -m pytest -q -s -p no:cacheprovider -W ignore::DeprecationWarning --ignore=$(OPERATOR_BENCH_FLEET) tests/reliability

stress: install
	PULLACCESS_STRESS=1 $(BIN)/python -m pytest -q -s -p no:cacheprovider -W ignore::DeprecationWarning --ignore=$(OPERATOR_BENCH_FLEET) tests/reliability

# Dry run, grant, re-run and revoke of the bench fleet (1,100 workloads) with only the generated operator policy.
operator-bench-fleet: install
	$(BIN)/python -m pytest -q -s -p no:cacheprovider -W ignore::DeprecationWarning $(OPERATOR_BENCH_FLEET)

# Two lanes side by side on 2 cores: the checks and the compatibility matrix in one, the suites
# against the rig in the other (they wait on emulated AWS much of the time). Each lane runs its
# targets in turn; both use the collection installed once, first.
CHECKS := sanity units lint policy-lint ee-check docs-lint docs-test compat-sanity-oldest compat operator-bench-fleet
AWS_SUITES := emulator integration reliability
test: install
	$(MAKE) -j2 --output-sync=recurse test-checks test-aws-suites

test-checks:
	$(MAKE) -j1 -o install -o build $(CHECKS)

test-aws-suites:
	$(MAKE) -j1 -o install -o build $(AWS_SUITES)

demo: install
	$(BIN)/python demo/run_demo.py

BENCH_VENV := $(BUILD)/bench/awscli-venv
# Add --baseline-sample 0 to run the AWS CLI baseline on all 100 services (about 20 more minutes).
BENCH_ARGS ?= --sizes 10,100,1000 --shape base --modes shared,account --baseline-sample 10

# The baseline's AWS CLI pins botocore exactly: it gets its own venv (with matplotlib for the chart).
$(BENCH_VENV)/.installed: tests/bench/requirements.txt | $(BIN)/.installed
	rm -rf $(BENCH_VENV)
	$(BIN)/python -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r tests/bench/requirements.txt
	touch $@

bench: install $(BENCH_VENV)/.installed
	$(BIN)/python tests/bench/run_bench.py --out $(BUILD)/bench $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) tests/output

# antsibull-docs and Sphinx live in their own venv (pinned); ansible-doc is the main venv's.
DOCS_VENV := $(BUILD)/docs-venv
DOCS_PATH := $(CURDIR)/$(DOCS_VENV)/bin:$(CURDIR)/$(BIN):$$PATH

$(DOCS_VENV)/.installed: tests/docs-requirements.txt | $(BIN)/.installed
	rm -rf $(DOCS_VENV)
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet -r tests/docs-requirements.txt
	touch $@

# The collection's docs as the Ansible docsite would lint them. Refs are checked against every
# installed collection (amazon.aws here): antsibull-docs copies dependencies with git, and
# build/ is ignored, so it would copy amazon.aws empty.
docs-lint: amazon-aws $(DOCS_VENV)/.installed
	PATH="$(DOCS_PATH)" ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(BUILD)/amazon.aws \
	  antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all .

# Built from the installed collection, as a user has it.
docs: install $(DOCS_VENV)/.installed
	PATH="$(DOCS_PATH)" tests/tools/build-docsite $(CURDIR)/$(BUILD)/docs
	@echo "docsite: $(BUILD)/docs/html/index.html"

# Builds the site in a temporary directory and checks its pages and links.
docs-test: install $(DOCS_VENV)/.installed
	PATH="$(DOCS_PATH)" $(BIN)/python -m pytest -q -p no:cacheprovider tests/docs

# Compatibility matrix: each ansible-core minor from requires_ansible to the newest, in its own venv
# (tests/compat/requirements-<core>.txt: its Python, the `ansible` release whose amazon.aws it gets, boto3/botocore;
# pinned by constraints-<core>.txt), runs the unit tests and the integration targets against the rig.
COMPAT_CORES := 2.17 2.18 2.19 2.20 2.21
COMPAT_OLDEST := $(firstword $(COMPAT_CORES))
COMPAT := $(BUILD)/compat
compat_req = tests/compat/requirements-$(1).txt

$(COMPAT)/%/venv/.installed: tests/compat/requirements-%.txt tests/compat/constraints-%.txt
	rm -rf $(COMPAT)/$*/venv
	py=$$(tests/tools/find-python $$(sed -n 's/^# python: //p' $(call compat_req,$*))) && $$py -m venv $(COMPAT)/$*/venv
	$(COMPAT)/$*/venv/bin/python -m pip install --quiet -r $(call compat_req,$*) -c tests/compat/constraints-$*.txt
	touch $@

$(COMPAT)/%/amazon.aws/ansible_collections/amazon/aws/MANIFEST.json: tests/compat/requirements-%.txt | $(BIN)/.installed
	rm -rf $(COMPAT)/$*/amazon.aws
	pkg=$$(sed -n 's/^# amazon.aws from: //p' $(call compat_req,$*)) && \
	$(BIN)/python -m pip download --quiet --no-deps --dest $(COMPAT)/wheels "$$pkg" && \
	$(BIN)/python tests/tools/extract_amazon_aws.py $(COMPAT)/wheels/ansible-$${pkg#ansible==}-py3-none-any.whl $(COMPAT)/$*/amazon.aws
	touch $@

COMPAT_READY := $(foreach c,$(COMPAT_CORES),$(COMPAT)/$(c)/venv/.installed $(COMPAT)/$(c)/amazon.aws/ansible_collections/amazon/aws/MANIFEST.json)

compat-run-%: $(COMPAT)/%/venv/.installed $(COMPAT)/%/amazon.aws/ansible_collections/amazon/aws/MANIFEST.json | $(BIN)/.installed
	$(BIN)/python tests/tools/compat.py run $*

# Two versions at a time (2 cores), every version even when one fails; then the table and the README check.
compat: $(COMPAT_READY) | $(BIN)/.installed
	rm -f $(COMPAT)/*/result.json
	status=0; $(BIN)/python tests/tools/compat.py all $(COMPAT_CORES) || status=1; \
	$(BIN)/python tests/tools/compat.py readme --check && exit $$status

compat-readme:
	$(BIN)/python tests/tools/compat.py readme

# Sanity on the oldest ansible-core (the newest is `make sanity`), with the oldest amazon.aws beside it.
compat-sanity-oldest: $(COMPAT)/$(COMPAT_OLDEST)/venv/.installed $(COMPAT)/$(COMPAT_OLDEST)/amazon.aws/ansible_collections/amazon/aws/MANIFEST.json
	$(BIN)/python tests/tools/compat.py sanity $(COMPAT_OLDEST)
