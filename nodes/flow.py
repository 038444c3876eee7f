"""Branching: the condition router and the merge node.

`flow.condition` compares its input with each route (text, regex or numeric
tests, checked when the config is validated) and fires the first matching route
or all of them; when none matches it fires the default route. Edges from the
outputs it does not fire are skipped by the engine. `flow.merge` gathers what
arrived from several branches: the first value in edge order, or all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.errors import PermanentError
from engine.node import NodeConfig, node
from engine.ports import Port, PortType
from nodes.support.values import IDENTIFIER, as_number, as_text, check_branch_names, compile_pattern

if TYPE_CHECKING:
    from engine.context import RunContext

TextOp = Literal["equals", "not_equals", "contains", "starts_with", "ends_with", "regex", "is_empty"]
NumberOp = Literal["gt", "lt", "ge", "le"]
NUMBER_OPS: dict[str, str] = {"gt": ">", "lt": "<", "ge": ">=", "le": "<="}


class Route(NodeConfig):
    """One named output of the router and the test that fires it."""

    name: str = Field(pattern=IDENTIFIER, description="Name of the output port this route fires.")
    op: TextOp | NumberOp = Field("equals", description="How the input is compared with `value`.")
    value: str = Field("", max_length=1000, description="Text, regex or number to compare with "
                       "(unused by is_empty).")
    ignore_case: bool = Field(False, description="Compare text without regard to case.")

    @field_validator("value", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return repr(value) if isinstance(value, float) else str(value)
        return value

    @model_validator(mode="after")
    def _value_fits_op(self) -> Route:
        if self.op == "regex":
            try:
                compile_pattern(self.value, self.ignore_case)
            except ValueError as err:
                raise ValueError(f"route '{self.name}': {err}") from err
        elif self.op in NUMBER_OPS and as_number(self.value) is None:
            raise ValueError(f"route '{self.name}': op '{self.op}' compares numbers, but value "
                             f"{self.value!r} is not a finite number")
        return self

    def summary(self) -> str:
        if self.op == "is_empty":
            return "the input is empty"
        verb = NUMBER_OPS.get(self.op) or self.op.replace("_", " ")
        return f"the input {verb} {self.value!r}" + (" (ignoring case)" if self.ignore_case else "")

    def matches(self, value: Any) -> bool:
        """True when `value` passes this route's test; PermanentError for a non-number in a numeric test."""
        if self.op in NUMBER_OPS:
            return self._compare_numbers(value)
        text, want = as_text(value), self.value
        if self.op == "is_empty":
            return not text.strip()
        if self.op == "regex":
            return compile_pattern(want, self.ignore_case).search(text) is not None
        if self.ignore_case:
            text, want = text.casefold(), want.casefold()
        if self.op == "equals":
            return text == want
        if self.op == "not_equals":
            return text != want
        if self.op == "contains":
            return want in text
        if self.op == "starts_with":
            return text.startswith(want)
        return text.endswith(want)  # ends_with

    def _compare_numbers(self, value: Any) -> bool:
        got = as_number(value)
        if got is None:
            shown = as_text(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise PermanentError(
                f"route '{self.name}' ({self.op}) compares numbers, but the input {shown!r} is not a number",
                hint="send a number, or use a text op such as equals/contains/regex for this route")
        limit = float(self.value)
        return {"gt": got > limit, "lt": got < limit, "ge": got >= limit, "le": got <= limit}[self.op]


class ConditionConfig(NodeConfig):
    routes: list[Route] = Field(default_factory=list, max_length=32,
                                description="Tests in order; each names an output port.")
    mode: Literal["first", "all"] = Field("first", description="Fire only the first matching route, "
                                          "or every matching route.")
    default_route: str = Field("default", pattern=IDENTIFIER,
                               description="Output fired when no route matches.")

    @model_validator(mode="after")
    def _names_unique(self) -> ConditionConfig:
        check_branch_names([r.name for r in self.routes], self.default_route, kind="route",
                           default_field="default_route")
        return self


def _route_ports(config: ConditionConfig) -> list[Port]:
    ports = [Port(r.name, PortType.TEXT, f"Fires when {r.summary()}.") for r in config.routes]
    ports.append(Port(config.default_route, PortType.TEXT, "Fires when no route matches."))
    return ports


@node("flow.condition", title="Condition router", config=ConditionConfig,
      description="Sends its input to the output of the first (or every) route whose test matches, "
                  "else to the default output; the other branches are skipped.",
      inputs=[Port("value", PortType.TEXT, "The text to test and pass on.")],
      outputs=_route_ports, router=True, blocking=False)
def condition(config: ConditionConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    value = inputs["value"]
    fired: list[str] = []
    for route in config.routes:
        if route.matches(value):
            fired.append(route.name)
            if config.mode == "first":
                break
    if not fired:
        fired.append(config.default_route)
    ctx.step("routed", to=fired)
    return dict.fromkeys(fired, value)


class MergeConfig(NodeConfig):
    mode: Literal["first", "all"] = Field("first", description="Pass on the first value that arrived "
                                          "(in edge order), or a list of all of them.")


@node("flow.merge", title="Merge", config=MergeConfig,
      description="Joins branches: passes on the first value that arrived (in edge order) or all of them.",
      inputs=[Port("values", PortType.ANY, "Connect every branch here; skipped branches add nothing.",
                   required=False, multiple=True)],
      outputs=[Port("value", PortType.ANY, "The first value, or the list of all values.")],
      blocking=False)
def merge(config: MergeConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    values = list(inputs.get("values") or [])
    if config.mode == "all":
        return {"value": values}
    if not values:
        raise PermanentError("no value arrived at input 'values'",
                             hint="connect at least one branch to 'values'")
    return {"value": values[0]}


SPECS = (condition, merge)
