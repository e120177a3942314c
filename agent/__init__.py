"""The search agent: a LangGraph state machine that decides whether to search, rewrites the
query, searches, reads, answers from numbered passages and checks its citations.

    from agent.api import AskRequest, SearchAgent

`agent/graph.py` shows the whole flow; `runtime/` holds the model backends. Nothing is
imported here so that `runtime` stays cheap to import on its own.
"""
