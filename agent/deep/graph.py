"""Deep mode as its own LangGraph subgraph — the research flow on one screen.

plan -> research -> take_notes -> reflect -+-> research   (something missing: one more round)
                                           +-> write      (done, or a budget / Stop ended it)

The parent graph runs it as one node, `deep_research` (agent/deep/node.py).
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from langgraph.graph import END, START, StateGraph

from agent.deps import AgentDeps

from .reflect import reflect
from .research import plan, research, take_notes
from .state import DeepState
from .write import write


def after_reflect(state: DeepState) -> Literal["research", "write"]:
    return "research" if state.more else "write"


def build_deep_graph(deps: AgentDeps) -> StateGraph:
    graph = StateGraph(DeepState)
    for name, node in [
        ("plan", plan),
        ("research", research),
        ("take_notes", take_notes),
        ("reflect", reflect),
        ("write", write),
    ]:
        graph.add_node(name, partial(node, deps=deps))
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "research")
    graph.add_edge("research", "take_notes")
    graph.add_edge("take_notes", "reflect")
    graph.add_conditional_edges("reflect", after_reflect)
    graph.add_edge("write", END)
    return graph
