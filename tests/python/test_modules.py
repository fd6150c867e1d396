"""tonne/modules.py: every module's declared steps resolve (they are imported only when run, so a typo would
surface only in `make demo` or `make bench`), and each module is a folder of tonne/."""

from __future__ import annotations

from pathlib import Path

from tonne.modules import MODULES, load, steps

TONNE = Path(__file__).resolve().parents[2] / "tonne"


def test_modules__every_declared_step__resolves_to_a_function():
    targets = [t for m in MODULES for t in (m.deploy, m.demo_options) if t]
    targets += [step.run for m in MODULES for step in m.demo + m.bench]
    assert targets
    for target in targets:
        assert callable(load(target)), target


def test_modules__names__unique_and_each_a_package_of_tonne():
    names = [m.name for m in MODULES]
    assert len(set(names)) == len(names)
    for name in names:
        assert (TONNE / name / "__init__.py").is_file(), name


def test_modules__deploy__registry_first_since_it_deploys_the_suite_the_others_build_on():
    assert [m.name for m in MODULES if m.deploy][0] == "registry"


def test_steps__bench__constancy_after_every_other_row_on_the_bench_chain():
    runs = [step.run for step in steps("bench")]
    assert runs[0] == "tonne.registry.bench:gas_rows"
    assert runs.index("tonne.registry.bench:constancy_rows") == len(runs) - 2  # only the bridge (own chains) after
