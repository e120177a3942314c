"""The OpenAI-compatible HTTP API of the agent (`megrez-search serve`)."""
