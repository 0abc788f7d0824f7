"""Interop: the official MCP Python SDK client against a real `mandate serve`.

No Mandate-specific client code: the SDK's OAuthClientProvider discovers the protected
resource and authorization server metadata after the first 401, registers itself (RFC 7591),
runs the authorization code flow with PKCE, and retries with the token. This script plays
only the human, through the SDK's redirect and callback handlers: it opens the authorization
URL, signs in and approves on the consent page over plain HTTP (urllib), and hands the code
from the redirect back to the SDK. Then it lists tools, calls the approved one, expects an
approved destructive one to come back as a JSON-RPC error (the organisation's policy wants a
human's approval per call), and calls a tool outside the granted scope: the gateway answers
403 insufficient_scope, the SDK runs the flow again for the wider scope (step-up), the human
approves it, and the retried call succeeds.

Usage: python_oauth.py MCP_URL USER PASSWORD AGENT APPROVED_TOOL STEP_UP_TOOL DESTRUCTIVE_TOOL
Prints one line per step; exits 0 only when every expectation held.
"""

import asyncio
import html
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError

# Never contacted: the script reads the redirect's Location itself.
REDIRECT = "http://127.0.0.1:9/callback"


class Memory:
    """Token storage kept in memory (the SDK's TokenStorage protocol)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


def hidden(page: str, name: str) -> str:
    found = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    if not found:
        raise SystemExit(f"FAIL: no `{name}` field on the page:\n{page}")
    return html.unescape(found.group(1))


def play_human(authorization_url: str, user: str, password: str, agent: str, tools: list[str]) -> AuthorizationCodeResult:
    """Signs in and approves only `tools` for `agent`, as a person in a browser would."""
    print(f"human: opening {authorization_url.split('?')[0]}")
    base = authorization_url.split("/oauth/authorize")[0]
    opener = urllib.request.build_opener(NoRedirect)
    page = opener.open(authorization_url).read().decode()
    request = hidden(page, "request")
    sign_in = urllib.parse.urlencode(
        {"request": request, "step": "sign_in", "username": user, "password": password}
    ).encode()
    answer = opener.open(urllib.request.Request(f"{base}/oauth/authorize", data=sign_in))
    cookie = answer.headers["Set-Cookie"].split(";")[0]
    consent = answer.read().decode()
    for shown in (agent, *tools, "Read:", "name=\"expires\""):
        if shown not in consent:
            raise SystemExit(f"FAIL: the consent page does not show {shown!r}:\n{consent}")
    print(f"human: signed in as {user}; approving {' '.join(tools)} for {agent}")
    approve = urllib.parse.urlencode(
        [
            ("request", request),
            ("csrf", hidden(consent, "csrf")),
            ("step", "approve"),
            ("agent", agent),
            *[("tool", tool) for tool in tools],
            ("expires", "3600"),
            ("purpose", "python sdk interop"),
        ]
    ).encode()
    try:
        opener.open(urllib.request.Request(f"{base}/oauth/authorize", data=approve, headers={"Cookie": cookie}))
        raise SystemExit("FAIL: approving did not redirect")
    except urllib.error.HTTPError as redirect:
        if redirect.code != 303:
            raise SystemExit(f"FAIL: approving answered {redirect.code}: {redirect.read().decode()}")
        location = redirect.headers["Location"]
    query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    if not location.startswith(REDIRECT):
        raise SystemExit(f"FAIL: redirected to {location}")
    return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0])


async def main() -> None:
    url, user, password, agent, allowed, step_up, destructive = sys.argv[1:8]
    answers: list[AuthorizationCodeResult] = []
    # The first consent grants two tools; the step-up asks for the third as well.
    consents = [[allowed, destructive], [allowed, destructive, step_up]]

    async def redirect_handler(authorization_url: str) -> None:
        if not consents:
            raise SystemExit("FAIL: the client asked the human a third time")
        tools = consents.pop(0)
        answers.append(await asyncio.to_thread(play_human, authorization_url, user, password, agent, tools))

    async def callback_handler() -> AuthorizationCodeResult:
        return answers.pop()

    metadata = OAuthClientMetadata(
        client_name="mcp python sdk interop",
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    storage = Memory()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with create_mcp_http_client(auth=provider) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                print(f"client: registered as {storage.client.client_id if storage.client else None}")
                tools = [t.name for t in (await session.list_tools()).tools]
                print(f"client: tools/list -> {tools}")
                if sorted(tools) != sorted([allowed, destructive]):
                    raise SystemExit(f"FAIL: expected {allowed} and {destructive}, got {tools}")
                result = await session.call_tool(allowed, {"id": "cus_001"})
                if result.is_error:
                    raise SystemExit(f"FAIL: the approved tool failed: {result}")
                print(f"client: {allowed} -> ok")
                try:
                    refused = await session.call_tool(destructive, {})
                except MCPError as error:
                    print(f"client: {destructive} -> error {error.error.code}: {error.error.message}")
                else:
                    raise SystemExit(f"FAIL: {destructive} was not refused: {refused}")
                stepped = await session.call_tool(step_up, {"id": "cus_001", "email": "new@example.com"})
                if stepped.is_error:
                    raise SystemExit(f"FAIL: the stepped-up call failed: {stepped}")
                if consents:
                    raise SystemExit("FAIL: the call outside the scope did not ask the human again")
                print(f"client: {step_up} -> ok after step-up (scope now {storage.tokens.scope if storage.tokens else None})")
    if storage.tokens is None or not storage.tokens.refresh_token:
        raise SystemExit("FAIL: no refresh token was stored")
    print("PASS")


if __name__ == "__main__":
    asyncio.run(main())
