"""The graph's nodes, one module per family: perceive, decide, rewrite, retrieve, answer."""
