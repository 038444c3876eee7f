"""The calculator tool: arithmetic parsed with `ast` and evaluated from a whitelist.

Nothing reaches `eval`. An expression is parsed, every syntax node is checked
against a short list (numbers, + - * / // % **, unary signs, parentheses, a few
named functions and constants), and the tree is walked by hand. Powers, integer
sizes, expression length and tree size are bounded, so `9**9**9` or a
thousand-digit factorial is refused instead of eating the machine. `^` means
power, as people (and models) often write it.

Every allowed operation is bounded by its arguments' size, so one evaluation
costs microseconds whatever the model writes: literals are at most MAX_CHARS
characters (and finite); integers at most MAX_INT_BITS bits before and after each
step; `**` is checked before it runs (exponent and result size); `round`'s digits
argument is bounded (a huge negative one would build 10**n); the float functions
convert to a float first (OverflowError, not work); factorial, comb, perm, shifts,
bit operations and sequences are not offered at all.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.tools import Tool, ToolConfig, ToolError, gated, object_schema
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

MAX_CHARS = 500
MAX_NODES = 200
MAX_EXPONENT = 10_000
MAX_INT_BITS = 4096  # about 1,233 decimal digits
MAX_ROUND_DIGITS = 1300  # round(x, -n) builds 10**n: bounded like any other integer
Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: pow, ast.BitXor: pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": abs, "round": round, "min": min, "max": max, "sqrt": math.sqrt, "exp": math.exp,
    "log": math.log, "log10": math.log10, "log2": math.log2, "sin": math.sin, "cos": math.cos,
    "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan, "floor": math.floor,
    "ceil": math.ceil, "radians": math.radians, "degrees": math.degrees, "hypot": math.hypot,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


class CalculationError(ToolError):
    """The expression is not plain arithmetic, or is too big to compute."""


def evaluate(expression: str) -> Number:
    """The value of an arithmetic expression; CalculationError saying why not."""
    text = expression.strip().replace("×", "*").replace("÷", "/")
    if not text:
        raise CalculationError("the expression is empty")
    if len(text) > MAX_CHARS:
        raise CalculationError(f"the expression is {len(text)} characters; the limit is {MAX_CHARS}")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise CalculationError(f"{text!r} is not an arithmetic expression",
                               hint="use numbers, + - * / // % ** and functions such as sqrt(2)") from err
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalculationError(f"the expression has more than {MAX_NODES} parts")
    try:
        value = _eval(tree.body)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as err:
        raise CalculationError(f"cannot compute {text!r}: {err}") from err
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculationError(f"{text!r} has no finite value")
    return value


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculationError(f"only numbers are allowed, not {repr(node.value)[:40]}")
        if isinstance(node.value, float) and not math.isfinite(node.value):
            raise CalculationError("the number is too large to be a finite value")
        return _bounded(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow | ast.BitXor):
            _check_power(left, right)
        return _bounded(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _bounded(_UNARY[type(node.op)](_eval(node.operand)))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.Call):
        return _call(node)
    raise CalculationError(f"'{ast.unparse(node)[:60]}' is not allowed: only numbers, arithmetic "
                           f"and the functions {', '.join(sorted(_FUNCTIONS))} are")


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        raise CalculationError(f"'{ast.unparse(node.func)[:60]}' is not an allowed function; "
                               f"allowed: {', '.join(sorted(_FUNCTIONS))}")
    if node.keywords or not node.args or len(node.args) > 8:
        raise CalculationError(f"{node.func.id}() takes 1 to 8 plain arguments")
    args = [_eval(a) for a in node.args]
    if node.func.id == "round" and len(args) == 2:
        _check_round_digits(args[1])
    return _bounded(_FUNCTIONS[node.func.id](*args))


def _check_round_digits(digits: Number) -> None:
    if not isinstance(digits, int):
        raise CalculationError("round()'s second argument must be a whole number")
    if abs(digits) > MAX_ROUND_DIGITS:
        raise CalculationError(f"round()'s second argument {digits} is beyond the limit of "
                               f"±{MAX_ROUND_DIGITS} digits")


def _check_power(base: Number, exponent: Number) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise CalculationError(f"exponent {exponent} is beyond the limit of {MAX_EXPONENT}")
    if (isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
            and abs(base).bit_length() * exponent > MAX_INT_BITS * 2):
        raise CalculationError(f"{base}**{exponent} would be larger than {MAX_INT_BITS} bits")


def _bounded(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculationError(f"the result has more than {MAX_INT_BITS} bits")
    if isinstance(value, complex):  # e.g. (-8) ** 0.5
        raise CalculationError("the result is a complex number")
    return value


def format_number(value: Number) -> str:
    """A number as people write it: 12 not 12.0, floats to 12 significant digits."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.12g}"
    return str(value)


class CalculatorConfig(ToolConfig):
    name: str = Field("calculator", pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$",
                      description="The tool's name, as the model sees it.")


CALCULATOR_DESCRIPTION = ("Evaluates an arithmetic expression and returns the number. Supports + - * / // % "
                          "** (or ^), parentheses, pi, e and functions: " + ", ".join(sorted(_FUNCTIONS)) + ".")


def calculator_tool(config: CalculatorConfig) -> Tool:
    async def run(args: dict[str, Any], ctx: RunContext) -> str:
        return format_number(evaluate(args["expression"]))

    schema = object_schema({"expression": {"type": "string", "description": "e.g. (3 + 4) * 2 ** 10"}},
                           ["expression"])
    return Tool(config.name, config.describe(CALCULATOR_DESCRIPTION), schema, run, kind="calculator")


@node("tool.calculator", title="Calculator tool", config=CalculatorConfig, blocking=False,
      inputs=[Port("expression", PortType.TEXT, "Evaluate this now (optional).", required=False)],
      outputs=[Port("tool", PortType.TOOL, "The calculator, for agents."),
               Port("result", PortType.TEXT, "The value of `expression`, when one was given.")],
      description="Safe arithmetic for agents: parsed, whitelisted operations, bounded sizes; never eval.")
def calculator_node(config: CalculatorConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    expression = as_text(inputs.get("expression")).strip()
    result = format_number(evaluate(expression)) if expression else ""
    return {"tool": gated(calculator_tool(config), ctx), "result": result}


SPECS: tuple[NodeSpec, ...] = (calculator_node,)
