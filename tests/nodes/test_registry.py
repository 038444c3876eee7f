"""The catalog's layout: a type id's family names its module, and families load only when asked for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import UnknownNodeType
from nodes.registry import FAMILIES, Catalog, default_registry

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_family_is_listed_and_nothing_else() -> None:
    assert sorted(default_registry().families()) == sorted(FAMILIES)


@pytest.mark.parametrize("spec", list(default_registry()), ids=lambda s: s.type)
def test_a_node_is_defined_where_its_type_id_says(spec: object) -> None:
    family, _, name = spec.type.partition(".")  # type: ignore[attr-defined]
    module = spec.run.__module__  # type: ignore[attr-defined]
    package = ROOT / "nodes" / family
    if package.is_dir():
        assert module == f"nodes.{family}.{name}"
        assert (package / f"{name}.py").is_file()
    else:
        assert module == f"nodes.{family}"
        assert (ROOT / "nodes" / f"{family}.py").is_file()


def test_support_modules_are_no_family() -> None:
    support = {p.stem for p in (ROOT / "nodes" / "support").iterdir() if not p.name.startswith("__")}
    assert not support & set(FAMILIES)
    top = {p.stem for p in (ROOT / "nodes").iterdir() if not p.name.startswith("__")}
    assert top == {*FAMILIES, "support", "registry", "plugins"}


def _modules_after(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return [m for m in out.stdout.split() if m.startswith("nodes.") and not m.startswith("nodes.support")]


def test_asking_for_one_type_imports_only_its_family() -> None:
    loaded = _modules_after("from nodes.registry import default_registry; "
                            "default_registry().get('transform.text')")
    assert loaded == ["nodes.plugins", "nodes.registry", "nodes.transform"]


def test_a_family_package_loads_with_its_node_modules_only() -> None:
    loaded = _modules_after("from nodes.registry import default_registry; "
                            "assert 'prompt.template' in default_registry()")
    assert loaded == ["nodes.plugins", "nodes.prompt", "nodes.prompt._language", "nodes.prompt._selectors",
                      "nodes.prompt.chat", "nodes.prompt.few_shot", "nodes.prompt.template", "nodes.registry"]


def test_an_unknown_type_loads_everything_to_suggest_a_close_name() -> None:
    catalog = Catalog()
    with pytest.raises(UnknownNodeType) as caught:
        catalog.get("prompt.templat")
    assert str(caught.value) == "unknown node type 'prompt.templat' (did you mean 'prompt.template'?)"


def test_an_unknown_family_is_never_imported() -> None:
    loaded = _modules_after("from nodes.registry import Catalog; c = Catalog(); "
                            "assert 'os.path' not in c; assert 'registry.x' not in c")
    assert loaded == ["nodes.plugins", "nodes.registry"]


def test_a_family_module_holding_another_familys_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import nodes.flow
    import nodes.transform

    monkeypatch.setattr(nodes.flow, "SPECS", nodes.transform.SPECS)
    catalog = Catalog(families=("flow",))
    with pytest.raises(ValueError, match=r"^nodes.flow defines 'transform.text', which belongs in nodes.transform$"):
        catalog.load("flow")
