"""The agent as one LangGraph state machine — the whole flow on one screen.

perceive -> decide -+-> rewrite -> search -+-> fetch -> rank -> answer -> check_citations -> finish
   |                |                      +-----------------> answer   (nothing found)
   |                +-> answer            (no search)
   |                +-> check_citations   (Megrez answered while deciding)
   +-> deep_research -> check_citations   (deep mode with search on or files: the subgraph of
                                           agent/deep/graph.py, plan -> research -> take_notes
                                           -> reflect -> [research again] -> write)
any failure -> finish (the turn is still recorded)
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from langgraph.graph import END, START, StateGraph

from agent.deep.graph import build_deep_graph
from agent.deep.node import deep_research
from agent.deps import AgentDeps
from agent.nodes.answer import answer, check_citations, finish
from agent.nodes.decide import decide
from agent.nodes.perceive import perceive
from agent.nodes.retrieve import fetch, rank, search
from agent.nodes.rewrite import rewrite
from agent.state import AgentState


def after_perceive(state: AgentState) -> Literal["decide", "deep_research", "finish"]:
    if state.error:
        return "finish"
    return "deep_research" if state.deep and (state.search or state.files) else "decide"


def after_decide(state: AgentState) -> Literal["rewrite", "answer", "check_citations", "finish"]:
    if state.error:
        return "finish"
    if state.will_search:
        return "rewrite"
    return "check_citations" if state.answered_in_decide else "answer"


def after_search(state: AgentState) -> Literal["fetch", "answer"]:
    return "fetch" if state.results else "answer"


def after_answer(state: AgentState) -> Literal["check_citations", "finish"]:
    return "finish" if state.error else "check_citations"


def build_graph(deps: AgentDeps) -> StateGraph:
    """The uncompiled graph; `SearchAgent` compiles it once with the SQLite checkpointer."""
    graph = StateGraph(AgentState)
    for name, node in [
        ("perceive", perceive),
        ("decide", decide),
        ("rewrite", rewrite),
        ("search", search),
        ("fetch", fetch),
        ("rank", rank),
        ("answer", answer),
        ("check_citations", check_citations),
        ("finish", finish),
    ]:
        graph.add_node(name, partial(node, deps=deps))

    # Deep mode: its own subgraph, compiled once, run as one node of this graph.
    research = build_deep_graph(deps).compile()
    graph.add_node("deep_research", partial(deep_research, deps=deps, research=research))

    graph.add_edge(START, "perceive")
    graph.add_conditional_edges("perceive", after_perceive)
    graph.add_conditional_edges("decide", after_decide)
    graph.add_edge("rewrite", "search")
    graph.add_conditional_edges("search", after_search)
    graph.add_edge("fetch", "rank")
    graph.add_edge("rank", "answer")
    graph.add_conditional_edges("answer", after_answer)
    graph.add_conditional_edges("deep_research", after_answer)
    graph.add_edge("check_citations", "finish")
    graph.add_edge("finish", END)
    return graph
