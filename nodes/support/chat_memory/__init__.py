"""Chat memory, shared by the memory, agent and chain families.

`kinds.py`: the memory kinds (buffer, window, summary, vector, entity, knowledge
graph), each a Memory that recalls context for a new message and records a turn;
`store.py`: where turns and derived state persist, keyed by memory and session;
`extract.py`: entity and triple extraction, offline or by a model. The memory
nodes themselves are nodes/memory.py.
"""
