"""The calculator's every function and operator, with the largest arguments a model can write.

Each hostile expression must come back as a bounded number or a CalculationError. The
whole table runs in a child process under a CPU limit (RLIMIT_CPU): an operation whose
cost grows with its argument (round's digits built 10**n for minutes) gets the child
killed by SIGXCPU and the test fails - an exit that happened or not, not a timing.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from nodes.tool.calculator import _FUNCTIONS, MAX_INT_BITS, CalculationError, evaluate

ROOT = Path(__file__).resolve().parents[2]
BIG = "(2**4095)"
HUGE_FLOAT = "1e308"
ONE_ARG = ["abs", "sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan", "asin", "acos", "atan",
           "floor", "ceil", "radians", "degrees", "round"]
TWO_ARGS = ["round", "min", "max", "log", "hypot"]


def hostile() -> list[str]:
    out: list[str] = []
    for name in ONE_ARG:
        out += [f"{name}({BIG})", f"{name}(-{BIG})", f"{name}({HUGE_FLOAT})", f"{name}(-{HUGE_FLOAT})",
                f"{name}(10**10000)", f"{name}(9**9**9)"]
    for name in TWO_ARGS:
        for a, b in ((BIG, BIG), (BIG, "-10**7"), ("5", "-99999999"), ("2.5", "10**9"), (HUGE_FLOAT, "-1300"),
                     ("5", "-(2**4095)"), (BIG, HUGE_FLOAT)):
            out.append(f"{name}({a}, {b})")
    for op in ("+", "-", "*", "/", "//", "%", "**", "^"):
        for a, b in ((BIG, BIG), (BIG, "-" + BIG), (HUGE_FLOAT, BIG), ("2", "4097"), ("-2", "10**4"),
                     ("1.0000001", "10**4"), (BIG, "0.5"), ("10", "10000"), ("(10**400)", "30")):
            out.append(f"{a} {op} {b}")
    out += ["9" * 499, "1" + "0" * 498, "1e999", "-1e999", "0.1e-999", "9**9**9", "(-1)**(10**9)",
            "2**2**2**2**2", "((((((((((1))))))))))" * 5, "1 << 10**6", "10**6 >> 1", "'a' * 10**9",
            "(1,) * 10**9", "[1] * 10**9", "factorial(10**6)", "comb(10**6, 5000)", "perm(10**6, 5000)",
            "pow(2, 10**9)", "pow(2, 10**9, 7)", "max(" + ", ".join([BIG] * 8) + ")",
            "round(round(round(5, -1300), -1300), -1300)", "-" * 200 + "1"]
    return out


CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_CPU, (20, 20))
from nodes.tool.calculator import CalculationError, evaluate
out = []
for expr in json.load(sys.stdin):
    try:
        value = evaluate(expr)
        out.append([expr, "ok", repr(value)[:60], value.bit_length() if isinstance(value, int) else None])
    except CalculationError as err:
        out.append([expr, "refused", str(err)[:200], None])
print(json.dumps(out))
"""


def test_every_function_and_operator_stays_bounded_under_a_cpu_limit() -> None:
    table = hostile()
    proc = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(table), capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, f"the child was killed or crashed (rc {proc.returncode}): {proc.stderr[-500:]}"
    results = json.loads(proc.stdout)
    assert [r[0] for r in results] == table
    for expr, how, text, bits in results:
        assert how in ("ok", "refused"), expr
        if bits is not None:
            assert bits <= MAX_INT_BITS, expr
        assert "Traceback" not in text, expr


def test_every_allowed_function_is_in_the_hostile_table() -> None:
    assert set(_FUNCTIONS) <= set(ONE_ARG) | set(TWO_ARGS)


@pytest.mark.parametrize(("expression", "message"), [
    ("round(5, -10**7)", "round()'s second argument -10000000 is beyond the limit of ±1300 digits"),
    ("round(5, 99999999)", "round()'s second argument 99999999 is beyond the limit of ±1300 digits"),
    ("round(5, 2.5)", "round()'s second argument must be a whole number"),
    ("1e999", "the number is too large to be a finite value"),
    ("-1e999 + 1", "the number is too large to be a finite value"),
    ("2 ** 4097", "2**4097 would be larger than 4096 bits"),
    ("(2**4095) * (2**4095)", "the result has more than 4096 bits"),
    ("9 ** 9 ** 9", "exponent 387420489 is beyond the limit of 10000"),
    ("1 << 10", "'1 << 10' is not allowed"),
    ("factorial(10)", "'factorial' is not an allowed function"),
    ("comb(10, 2)", "'comb' is not an allowed function"),
    ("perm(10, 2)", "'perm' is not an allowed function"),
    ("'ab' * 3", "only numbers are allowed, not 'ab'"),
    ("(1, 2) * 3", "'(1, 2)' is not allowed"),
])
def test_size_refusals_say_why(expression: str, message: str) -> None:
    with pytest.raises(CalculationError) as caught:
        evaluate(expression)
    assert message in str(caught.value)


def test_bounded_operations_still_compute() -> None:
    assert evaluate("round(2**4095, -1230)") == round(2**4095, -1230)
    assert evaluate("round(1234.5678, 2)") == 1234.57
    assert evaluate("(2**4000) // 3 % 1000") == (2**4000) // 3 % 1000
    assert math.isclose(evaluate("log(2**4095)"), 4095 * math.log(2))
