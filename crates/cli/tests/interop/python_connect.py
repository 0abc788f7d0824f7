"""Interop: the official MCP Python SDK's stdio client launches `mandate connect` as a local
MCP server (as a desktop agent would) and works through it against a remote `mandate serve`.

No Mandate-specific client code: StdioServerParameters + stdio_client + ClientSession. The
script initializes, lists tools, calls the approved one, and expects the other to come back
as a JSON-RPC error (the gateway's -32003 denial, passed through unchanged).

Usage: python_connect.py MANDATE_BIN MCP_URL TOKEN_FILE APPROVED_TOOL DENIED_TOOL
Prints one line per step; exits 0 only when every expectation held.
"""

import asyncio
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError


async def main() -> None:
    binary, url, token_file, allowed, denied = sys.argv[1:6]
    server = StdioServerParameters(command=binary, args=["connect", url, "--token-file", token_file])
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            print(f"client: initialized with {init.server_info.name} at {init.protocol_version}")
            tools = [t.name for t in (await session.list_tools()).tools]
            print(f"client: tools/list -> {tools}")
            if tools != [allowed]:
                raise SystemExit(f"FAIL: expected only {allowed}, got {tools}")
            result = await session.call_tool(allowed, {"id": "cus_001"})
            if result.is_error:
                raise SystemExit(f"FAIL: the approved tool failed: {result}")
            text = " ".join(c.text for c in result.content if getattr(c, "text", None))
            print(f"client: {allowed} -> ok: {text}")
            try:
                refused = await session.call_tool(denied, {"id": "cus_001", "email": "x@example.com"})
            except MCPError as error:
                print(f"client: {denied} -> error {error.error.code}: {error.error.message}")
                print(f"client: {denied} error data -> {error.error.data}")
            else:
                raise SystemExit(f"FAIL: {denied} was not refused with a JSON-RPC error: {refused}")
    print("PASS")


if __name__ == "__main__":
    asyncio.run(main())
