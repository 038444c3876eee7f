"""A process that starts a long run and waits to be killed: `python -m tests.engine.orphan_child URL RUN_ID`.

The flow is input -> test.slow (60 s) -> output, recorded in the store at URL.
The process prints "started" once the slow node has begun, so the test knows
when to kill it mid-run.
"""

from __future__ import annotations

import sys

from engine.flow import parse_flow
from engine.runner import Runner
from engine.store import Store
from tests.server.conftest import piped
from tests.server.nodes import registry


class Announce:
    """Prints "started" (once) when the slow node's first token arrives."""

    def __init__(self) -> None:
        self.said = False

    def __call__(self, event: object) -> None:
        if not self.said and getattr(event, "kind", "") == "node.token":
            self.said = True
            print("started", flush=True)


def main(url: str, run_id: str) -> None:
    store = Store(url)
    flow = parse_flow(piped("orphan", ("test.slow", {"seconds": 60.0, "step": 0.05})))
    Runner(registry(), store=store).run(flow, {"question": "q"}, run_id=run_id, handlers=[Announce()])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
