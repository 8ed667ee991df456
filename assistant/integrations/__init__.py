"""Ways other programs call the assistant: an HTTP ``client``, an MCP
server (``mcp_server``) and a LangChain tool and retriever (``langchain_tools``)."""
