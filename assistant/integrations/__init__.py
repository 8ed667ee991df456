"""Ways other programs call the assistant: an HTTP ``client`` (sync and async), an MCP
server (``mcp_server``) and a LangChain tool and retriever (``langchain_tools``)."""
