// Interop: the official MCP TypeScript SDK client against a real `mandate serve`.
//
// No Mandate-specific client code: the SDK's auth() discovers the protected resource and
// authorization server metadata after the first 401, registers itself (RFC 7591) and
// starts the authorization code flow with PKCE. This script implements only the SDK's
// OAuthClientProvider (in-memory storage) and plays the human in redirectToAuthorization:
// it opens the authorization URL, signs in and approves on the consent page with fetch,
// and keeps the code from the redirect for transport.finishAuth(). Then it lists tools,
// calls the approved one, and expects a call outside the mandate to fail.
//
// Usage: node typescript_oauth.cjs MCP_URL USER PASSWORD AGENT APPROVED_TOOL DENIED_TOOL
// (NODE_PATH must reach a node_modules holding @modelcontextprotocol/sdk.)
// Prints one line per step; exits 0 only when every expectation held.
"use strict";

const crypto = require("node:crypto");
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { UnauthorizedError } = require("@modelcontextprotocol/sdk/client/auth.js");

const [url, user, password, agent, allowed, stepUp, destructive] = process.argv.slice(2);
// What the human approves on the consent page.
const approve = [allowed, destructive];
// Never contacted: the script reads the redirect's Location itself.
const REDIRECT = "http://127.0.0.1:9/callback";

function fail(message) {
  console.log(`FAIL: ${message}`);
  process.exit(1);
}

function hidden(page, name) {
  const found = page.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!found) fail(`no \`${name}\` field on the page:\n${page}`);
  return found[1].replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

const form = { "content-type": "application/x-www-form-urlencoded" };

async function playHuman(authorizationUrl, state) {
  console.log(`human: opening ${authorizationUrl.origin}${authorizationUrl.pathname}`);
  const endpoint = `${authorizationUrl.origin}/oauth/authorize`;
  const page = await (await fetch(authorizationUrl, { redirect: "manual" })).text();
  const request = hidden(page, "request");
  const signedIn = await fetch(endpoint, {
    method: "POST",
    redirect: "manual",
    headers: form,
    body: new URLSearchParams({ request, step: "sign_in", username: user, password }),
  });
  const cookie = (signedIn.headers.get("set-cookie") || "").split(";")[0];
  const consent = await signedIn.text();
  for (const shown of [agent, ...approve, "Read:", 'name="expires"']) {
    if (!consent.includes(shown)) fail(`the consent page does not show ${shown}:\n${consent}`);
  }
  console.log(`human: signed in as ${user}; approving ${approve.join(" ")} for ${agent}`);
  const approved = await fetch(endpoint, {
    method: "POST",
    redirect: "manual",
    headers: { ...form, cookie },
    body: new URLSearchParams([
      ["request", request],
      ["csrf", hidden(consent, "csrf")],
      ["step", "approve"],
      ["agent", agent],
      ...approve.map((tool) => ["tool", tool]),
      ["expires", "3600"],
      ["purpose", "typescript sdk interop"],
    ]),
  });
  if (approved.status !== 303) fail(`approving answered ${approved.status}: ${await approved.text()}`);
  const location = new URL(approved.headers.get("location"));
  if (!location.href.startsWith(REDIRECT)) fail(`redirected to ${location}`);
  if (location.searchParams.get("state") !== state) fail("the state came back changed");
  if (location.searchParams.get("iss") !== authorizationUrl.origin) fail("no RFC 9207 iss");
  return location.searchParams.get("code");
}

class MemoryProvider {
  constructor() {
    this.expectedState = crypto.randomBytes(16).toString("hex");
  }
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return {
      client_name: "mcp typescript sdk interop",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    return this.expectedState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  async redirectToAuthorization(authorizationUrl) {
    this.code = await playHuman(authorizationUrl, this.expectedState);
  }
}

async function main() {
  const provider = new MemoryProvider();
  const first = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  try {
    await new Client({ name: "mandate-interop", version: "1.0.0" }).connect(first);
    fail("connected without authorization");
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  console.log(`client: registered as ${provider.client && provider.client.client_id}`);
  await first.finishAuth(provider.code);
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  const client = new Client({ name: "mandate-interop", version: "1.0.0" });
  await client.connect(transport);
  const tools = (await client.listTools()).tools.map((t) => t.name);
  console.log(`client: tools/list -> ${JSON.stringify(tools)}`);
  if (JSON.stringify([...tools].sort()) !== JSON.stringify([...approve].sort())) fail(`expected ${approve}`);
  const ok = await client.callTool({ name: allowed, arguments: { id: "cus_001" } });
  if (ok.isError) fail(`the approved tool failed: ${JSON.stringify(ok)}`);
  console.log(`client: ${allowed} -> ok`);
  try {
    const refused = await client.callTool({ name: destructive, arguments: {} });
    fail(`${destructive} was not refused: ${JSON.stringify(refused)}`);
  } catch (error) {
    console.log(`client: ${destructive} -> error ${error.code}: ${error.message}`);
  }
  // Outside the granted scope: 403 insufficient_scope. SDK 1.32.2 answers a scope challenge by
  // refreshing its token first (without the wider scope), gets the same 403 and gives up:
  // the call fails with an error, and no second consent is asked for.
  try {
    const refused = await client.callTool({ name: stepUp, arguments: { id: "cus_001", email: "x@example.com" } });
    fail(`${stepUp} was not refused: ${JSON.stringify(refused)}`);
  } catch (error) {
    console.log(`client: ${stepUp} -> error ${error.code}: ${error.message}`);
  }
  if (!provider.saved || !provider.saved.refresh_token) fail("no refresh token was saved");
  await client.close();
  console.log("PASS");
}

main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
