# Two entry points on a fresh clone: `make demo` and `make test` (see README).
VENV   ?= .venv
PY     := $(VENV)/bin/python
# torch 2.13.0 matches the CPU wheel on the project's machines; override for your CUDA build,
# e.g. `make demo TORCH_SPEC="torch==2.13.0" PIP_INDEX_ARGS="--index-url <your torch index>"`.
TORCH_SPEC     ?= torch==2.13.0
PIP_INDEX_ARGS ?=

.PHONY: setup demo test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q $(PIP_INDEX_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps basicts==1.1.0
	$(PY) -c "import basicts, easytorch, torch; from basicts.runners import BasicTSRunner; print('basicts', basicts.__version__, 'torch', torch.__version__)"
	touch $@

demo: setup
	$(PY) run.py -c configs/TSJT-paper_GWN_Synthetic.py

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) checkpoints results
