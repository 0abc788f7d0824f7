//! Streamable HTTP tests: `serve_http` on a real socket, driven by rmcp's client and by raw requests.
//! One test binary; each module covers one concern.

mod options;
mod support;
mod tools;
mod wire;
