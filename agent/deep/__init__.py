"""Deep mode: research a question that one search cannot answer (see deep/graph.py)."""
