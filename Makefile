# lossbook: one entry point for setting up, building and testing the book.
#   make book   set everything up and build the HTML book
#   make test   set everything up and run every test
#   make lab    set everything up and open the chapters in JupyterLab
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := book

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HTML := _build/html
MATHJAX := _build/_mathjax/_static/mathjax/tex-chtml.js
JUPYTERLAB := jupyterlab==4.6.6
BUILD := $(BIN)/jupyter-book build . -W -n --keep-going

.PHONY: book test lab serve student pdf publish assignments chromium poppler clean

# --- set-up -------------------------------------------------------------------
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "python3 -m venv failed: installing Debian's python3-venv"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq python3-venv >/dev/null; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# MathJax 3 is served by the book itself (no CDN): copied at build time from the
# pinned PyPI package django-static-mathjax, never committed.
$(MATHJAX): $(STAMP)
	rm -rf _build/_mathjax && mkdir -p _build/_mathjax/_static
	cp -r "$$($(BIN)/python -c 'import mathjax, os; print(os.path.dirname(mathjax.__file__))')/static/mathjax/es5" _build/_mathjax/_static/mathjax
	test -f $@

# Debian's Chromium for the browser tests (Playwright drives it; no browser
# download), and a CJK font so the glossary's Chinese renders in screenshots.
chromium:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh | grep -q .; then \
	  echo "Installing Debian's chromium and fonts-wqy-microhei (needs root or sudo)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	fi

# otter-grader in a venv of its own (its pins differ from the book's), with
# lossbook and the packages the chapters import (torch's CPU build, as in the
# book's environment), for the autograded assignments.
OTTER_VENV := .venv-otter
OTTER_STAMP := $(OTTER_VENV)/.installed
OTTER := otter-grader==7.0.0
$(OTTER_STAMP): pyproject.toml requirements.txt
	test -x $(OTTER_VENV)/bin/python || $(PYTHON) -m venv $(OTTER_VENV)
	$(OTTER_VENV)/bin/python -m pip install --quiet "$(OTTER)" ipykernel
	grep '^torch==' requirements.txt > $(OTTER_VENV)/constraints.txt
	$(OTTER_VENV)/bin/python -m pip install --quiet -c $(OTTER_VENV)/constraints.txt -e ".[book]"
	touch $@

# --- the two commands -----------------------------------------------------------
book: $(MATHJAX)
	$(BUILD)
	@echo
	@echo "The book is built. Open file://$(CURDIR)/$(HTML)/index.html"
	@echo "or run 'make serve' and open http://127.0.0.1:8000/"

test: $(MATHJAX) $(OTTER_STAMP) chromium
	$(BIN)/ruff check lossbook tests
	$(BIN)/ruff format --check lossbook tests
	$(BUILD)
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	  --cov=lossbook --cov-report=term lossbook tests chapters

# --- reader affordances ---------------------------------------------------------
lab: $(STAMP)
	$(BIN)/python -m pip install --quiet "$(JUPYTERLAB)" -c requirements.txt
	$(BIN)/jupyter lab $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) chapters/

serve: $(HTML)/index.html
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory $(HTML) 8000

$(HTML)/index.html:
	$(MAKE) book

# A student edition: the same book with every solution removed (built from
# copies of the notebooks, because sphinx-exercise's hide_solutions cannot
# handle gated solutions).
student: $(MATHJAX)
	$(BIN)/python tests/student_edition.py _build/student-src
	cd _build/student-src && ../../$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Student edition: file://$(CURDIR)/_build/student-src/_build/html/index.html"

# An autograded assignment per chapter (otter-grader): the student notebook
# and the autograder zip, in _build/assignments/chNN/dist/.
assignments: $(STAMP) $(OTTER_STAMP)
	$(BIN)/python tests/assignments.py --otter $(OTTER_VENV)/bin/otter _build/assignments
	@echo "Assignments: _build/assignments/chNN/dist/{student,autograder}/"

# The whole book as one PDF (Chromium prints each page of the HTML build once
# MathJax has typeset it; poppler joins them).
pdf: $(MATHJAX) chromium poppler
	$(BUILD)
	$(BIN)/python tests/book_pdf.py $(HTML) _build/pdf/lossbook.pdf

poppler:
	@command -v pdfunite >/dev/null 2>&1 || { \
	  echo "Installing Debian's poppler-utils (needs root or sudo)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq poppler-utils >/dev/null; }

# The static site, ready to upload to any static host (GitHub Pages, Netlify, an
# S3 bucket, a web server's directory): the HTML book, its PDF and the student
# edition, in _build/publish/ and as _build/lossbook-site.tar.gz.
publish: pdf student
	rm -rf _build/publish && mkdir -p _build/publish
	cp -r $(HTML)/. _build/publish/
	cp -r _build/student-src/_build/html _build/publish/student
	cp _build/pdf/lossbook.pdf _build/publish/lossbook.pdf
	touch _build/publish/.nojekyll
	tar -czf _build/lossbook-site.tar.gz -C _build/publish .
	@echo "Upload _build/publish/ (or _build/lossbook-site.tar.gz) to a static host."

# --- benchmarks -----------------------------------------------------------------
# Speed against torch.nn.functional and the peers (MONAI, kornia,
# pytorch-metric-learning: tests/benchmarks/requirements.txt) and accuracy in
# ulps, in a venv of their own with torch held at the book's pin; the results
# (JSON) go to tests/benchmarks/results/, the figures of the page "How fast, how
# accurate" to chapters/images/. `make bench-times` adds each chapter's
# execution time and the wall time of `make test` (slow: runs every test).
.PHONY: bench bench-times
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_RESULTS := tests/benchmarks/results
$(BENCH_STAMP): requirements.txt pyproject.toml tests/benchmarks/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	grep '^torch==' requirements.txt > $(BENCH_VENV)/constraints.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet -c $(BENCH_VENV)/constraints.txt \
	  -r requirements.txt -r tests/benchmarks/requirements.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python tests/benchmarks/bench_losses.py --json $(BENCH_RESULTS)/speed.json
	$(BENCH_VENV)/bin/python tests/benchmarks/accuracy.py --json $(BENCH_RESULTS)/accuracy.json
	$(BENCH_VENV)/bin/python tests/benchmarks/accuracy.py --formulas \
	  --json $(BENCH_RESULTS)/accuracy_formulas.json
	$(BENCH_VENV)/bin/python tests/benchmarks/figures.py $(BENCH_RESULTS) chapters/images

bench-times: $(STAMP)
	$(BIN)/python tests/benchmarks/timings.py --test --json $(BENCH_RESULTS)/timings.json
	$(BIN)/python tests/benchmarks/figures.py $(BENCH_RESULTS) chapters/images

clean:
	rm -rf _build
