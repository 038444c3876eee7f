"""Port inference when the user connects node A to node B."""

from __future__ import annotations

from engine.ports import Port
from engine.ports import PortType as T
from ui.ports import Ambiguous, Incompatible, Unique, infer

TEXT_OUT = [Port("text", T.TEXT)]


def test_a_single_fitting_pair_is_chosen() -> None:
    got = infer("llm", [Port("text", T.TEXT), Port("usage", T.JSON)], "answer", [Port("value", T.TEXT)])
    assert isinstance(got, Unique) and got.pair.label == "text → value"


def test_several_fitting_pairs_are_asked_about() -> None:
    got = infer("q", TEXT_OUT, "prompt", [Port("question", T.TEXT), Port("context", T.TEXT, required=False)])
    assert isinstance(got, Ambiguous)
    assert [p.label for p in got.pairs] == ["text → context", "text → question"]


def test_an_exact_match_beats_matches_through_any() -> None:
    got = infer("q", TEXT_OUT, "x", [Port("anything", T.ANY), Port("question", T.TEXT)])
    assert isinstance(got, Unique) and got.pair.target.name == "question"


def test_any_alone_fits() -> None:
    got = infer("docs", [Port("documents", T.DOCUMENTS)], "x", [Port("value", T.ANY)])
    assert isinstance(got, Unique) and got.pair.label == "documents → value"


def test_incompatible_names_the_types_that_would_fit() -> None:
    got = infer("docs", [Port("documents", T.DOCUMENTS)], "llm",
                [Port("prompt", T.TEXT), Port("model", T.LANGUAGE_MODEL)])
    assert got == Incompatible(
        "cannot connect 'docs' to 'llm': 'docs' outputs documents (Documents), but 'llm' takes "
        "prompt (Text), model (LanguageModel); connect an output of type LanguageModel or Text into "
        "'llm', or send 'docs' to a node that takes Documents")


def test_taken_inputs_and_existing_pairs_are_not_proposed_again() -> None:
    inputs = [Port("question", T.TEXT), Port("context", T.TEXT, required=False)]
    got = infer("q", TEXT_OUT, "prompt", inputs, taken={"question"})
    assert isinstance(got, Unique) and got.pair.target.name == "context"
    got = infer("q", TEXT_OUT, "prompt", inputs, taken={"question", "context"})
    assert isinstance(got, Incompatible) and "already connected" in got.message


def test_a_multiple_input_takes_more_edges() -> None:
    got = infer("q", TEXT_OUT, "join", [Port("values", T.TEXT, multiple=True)], taken={"values"})
    assert isinstance(got, Unique)
    got = infer("q", TEXT_OUT, "join", [Port("values", T.TEXT, multiple=True)], existing={("text", "values")})
    assert isinstance(got, Incompatible)


def test_self_loops_and_portless_ends_are_refused() -> None:
    assert infer("a", TEXT_OUT, "a", [Port("v", T.TEXT)]) == Incompatible("'a' cannot be connected to itself")
    assert "has no outputs" in infer("out", [], "b", [Port("v", T.TEXT)]).message  # type: ignore[union-attr]
    assert "has no inputs" in infer("a", TEXT_OUT, "in", []).message  # type: ignore[union-attr]
