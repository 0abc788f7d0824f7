// A header-adding reverse proxy for the conformance suite, which cannot send a token:
// every request to http://127.0.0.1:PORT is forwarded to TARGET with
// `Authorization: Bearer TOKEN` added. Host, Origin and every other header pass unchanged,
// and bodies stream both ways (event streams included). Test harness only: Mandate itself
// never accepts a request without its token.
//
// Usage: node bearer_proxy.mjs TARGET_ORIGIN TOKEN_FILE
// Prints `listening on http://127.0.0.1:PORT` once ready.
import http from "node:http";
import { readFileSync } from "node:fs";

const [target, tokenFile] = process.argv.slice(2);
const upstream = new URL(target);
const token = readFileSync(tokenFile, "utf8").trim();

const server = http.createServer((req, res) => {
  const headers = { ...req.headers, authorization: `Bearer ${token}` };
  const forward = http.request(
    { hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on("error", (error) => {
    res.writeHead(502, { "content-type": "text/plain" });
    res.end(`bearer proxy: ${error.message}`);
  });
  req.pipe(forward);
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
