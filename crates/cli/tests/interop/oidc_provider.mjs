// A real OpenID Connect provider for the e2e tests: panva's certified `oidc-provider`
// (9.13.3, from npm; scripts/test installs it under target/interop-node), with one
// confidential client, in-memory accounts, and its built-in sign-in and consent forms
// (devInteractions), which the tests submit over HTTP to play the person.
//
// Usage: node oidc_provider.mjs CONFIG_JSON
//   CONFIG_JSON = {
//     "client_id": "...", "client_secret": "...",
//     "redirect_uri": "..."            (optional: else read as one line from stdin),
//     "auth_method": "client_secret_basic" | "client_secret_post"   (default basic; when
//                    given, the only method the provider offers in its metadata),
//     "id_token_alg": "RS256" | "ES256"                             (default RS256),
//     "accounts": { "<login>": { "email": "...", "email_verified": true } }
//   (the login is the account's subject, `sub`)
//   }
// $MANDATE_INTEROP_NODE_MODULES must be a node_modules holding oidc-provider.
// Prints `ISSUER <url>` once listening (on a free loopback port) and `READY` once the
// client is registered; serves until killed.

import * as crypto from "node:crypto";
import * as http from "node:http";
import * as path from "node:path";
import * as readline from "node:readline";
import { pathToFileURL } from "node:url";

const config = JSON.parse(process.argv[2] ?? "{}");
const modules = process.env.MANDATE_INTEROP_NODE_MODULES;
if (!modules) {
  console.error("MANDATE_INTEROP_NODE_MODULES is not set");
  process.exit(2);
}
// ESM ignores NODE_PATH: load the package from the given node_modules by path.
const entry = pathToFileURL(path.join(modules, "oidc-provider", "lib", "index.js"));
const { default: Provider } = await import(entry.href);

function signingKeys() {
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  return [
    { ...rsa.export({ format: "jwk" }), kid: "test-rsa", use: "sig", alg: "RS256" },
    { ...ec.export({ format: "jwk" }), kid: "test-ec", use: "sig", alg: "ES256" },
  ];
}

async function redirectUri() {
  if (config.redirect_uri) return config.redirect_uri;
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim()) return line.trim();
  }
  throw new Error("no redirect URI on stdin");
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
console.log(`ISSUER ${issuer}`);

const accounts = config.accounts ?? {};
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: config.client_id,
      client_secret: config.client_secret,
      redirect_uris: [await redirectUri()],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: config.auth_method ?? "client_secret_basic",
      id_token_signed_response_alg: config.id_token_alg ?? "RS256",
    },
  ],
  ...(config.auth_method ? { clientAuthMethods: [config.auth_method] } : {}),
  jwks: { keys: signingKeys() },
  cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
  claims: { openid: ["sub"], email: ["email", "email_verified"] },
  scopes: ["openid", "email"],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { ...account, sub: id };
      },
    };
  },
});
provider.on("server_error", (ctx, err) => console.error("server_error", err));
server.on("request", provider.callback());
console.log("READY");
