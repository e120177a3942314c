"""The two ways people use the agent: the browser chat (`app`) and the OpenAI-compatible API
(`api_server`), plus the offline demo (`demo`). Both are thin layers over `agent.api`;
`render` and `conversation` turn agent events into safe chat HTML."""
