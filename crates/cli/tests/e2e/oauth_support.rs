//! The human and the client of the OAuth tests: an HTTP "browser" that never follows
//! redirects (so every Location is inspected), PKCE pairs, and the pages' hidden fields.

use crate::support::*;
use base64::Engine as _;
use sha2::Digest as _;

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const PASSWORD: &str = "correct horse battery";

/// A gateway with `alice@corp` as a local user and the agent `bot` (with owners).
pub fn gateway_with_user(extra: &str) -> Gateway {
    let gw = Gateway::start_with(Upstream::Stdio, extra);
    add_user(&gw, "alice@corp", PASSWORD);
    gw.add_agent("bot");
    gw
}

pub fn add_user(gw: &Gateway, user: &str, password: &str) {
    let file = gw.dir.path().join(format!("{user}.password"));
    std::fs::write(&file, format!("{password}\n")).unwrap();
    gw.ok(&[
        "users",
        "add",
        user,
        "--password-file",
        file.to_str().unwrap(),
    ]);
}

pub fn http() -> ::reqwest::Client {
    ::reqwest::Client::builder()
        .redirect(::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!("verifier-{}-{}", uuid_like(), "x".repeat(40));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `application/x-www-form-urlencoded`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Registers a public client (RFC 7591); returns its id.
pub async fn register(gw: &Gateway, redirect: &str) -> String {
    let resp = http()
        .post(format!("{}/oauth/register", gw.base()))
        .json(&serde_json::json!({
            "client_name": "test client",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["token_endpoint_auth_method"], "none");
    body["client_id"].as_str().unwrap().to_owned()
}

/// An HTTP answer, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: ::reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The query parameters of the Location this answer redirects to.
    pub fn redirect(&self) -> (String, std::collections::HashMap<String, String>) {
        assert_eq!(self.status, 303, "{}", self.body);
        let location = self.header("location").expect("a Location");
        let url = ::reqwest::Url::parse(&location).unwrap();
        let base = format!("{}://{}{}", url.scheme(), url.authority(), url.path());
        (base, url.query_pairs().into_owned().collect())
    }

    /// A hidden field of the page.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no `{name}` in {}", self.body))
            + marker.len();
        let len = self.body[start..].find('"').unwrap();
        self.body[start..start + len].to_owned()
    }
}

pub async fn answer(req: ::reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.unwrap();
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

/// One authorization attempt, from the client's request to the token.
pub struct Flow<'a> {
    pub gw: &'a Gateway,
    pub client_id: String,
    pub redirect: String,
    pub verifier: String,
    pub challenge: String,
    pub state: String,
    /// The scope asked for (`crm.*` unless a test changes it).
    pub scope: String,
}

impl<'a> Flow<'a> {
    pub async fn new(gw: &'a Gateway) -> Flow<'a> {
        let client_id = register(gw, REDIRECT).await;
        let (verifier, challenge) = pkce();
        Flow {
            gw,
            client_id,
            redirect: REDIRECT.to_owned(),
            verifier,
            challenge,
            state: "st-123".to_owned(),
            scope: "crm.*".to_owned(),
        }
    }

    /// The authorization request's parameters, to which `extra` is appended (or which it
    /// replaces, by name).
    pub fn params(&self, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect.as_str()),
            ("state", self.state.as_str()),
            ("code_challenge", self.challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", &self.gw.url()),
            ("scope", self.scope.as_str()),
        ]
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        params.extend(
            extra
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        params
    }

    pub async fn authorize(&self, extra: &[(&'a str, &'a str)]) -> Answer {
        let params = self.params(extra);
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let url = format!("{}/oauth/authorize?{}", self.gw.base(), form(&pairs));
        answer(http().get(url)).await
    }

    pub async fn post(&self, cookie: Option<&str>, pairs: &[(&str, &str)]) -> Answer {
        let mut req = http()
            .post(format!("{}/oauth/authorize", self.gw.base()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        answer(req).await
    }

    /// Signs in for the pending request `request`; returns the consent page and the cookie.
    pub async fn sign_in(
        &self,
        request: &str,
        user: &str,
        password: &str,
    ) -> (Answer, Option<String>) {
        let page = self
            .post(
                None,
                &[
                    ("request", request),
                    ("step", "sign_in"),
                    ("username", user),
                    ("password", password),
                ],
            )
            .await;
        let cookie = page
            .header("set-cookie")
            .map(|c| c.split(';').next().unwrap().to_owned());
        (page, cookie)
    }

    /// Up to the consent page: (request id, consent page, cookie).
    pub async fn to_consent(&self) -> (String, Answer, String) {
        let page = self.authorize(&[]).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let request = page.hidden("request");
        let (consent, cookie) = self.sign_in(&request, "alice@corp", PASSWORD).await;
        assert_eq!(consent.status, 200, "{}", consent.body);
        (request, consent, cookie.expect("a session cookie"))
    }

    /// Approves `tools` for `bot` on the consent page; returns the answer (a redirect).
    pub async fn approve(
        &self,
        request: &str,
        consent: &Answer,
        cookie: &str,
        tools: &[&str],
    ) -> Answer {
        let csrf = consent.hidden("csrf");
        let mut pairs = vec![
            ("request", request),
            ("csrf", csrf.as_str()),
            ("step", "approve"),
            ("agent", "bot"),
            ("expires", "3600"),
            ("purpose", "ticket 4521"),
        ];
        pairs.extend(tools.iter().map(|t| ("tool", *t)));
        self.post(Some(cookie), &pairs).await
    }

    /// The whole flow to a code.
    pub async fn code(&self, tools: &[&str]) -> String {
        let (request, consent, cookie) = self.to_consent().await;
        let (_, query) = self
            .approve(&request, &consent, &cookie, tools)
            .await
            .redirect();
        assert_eq!(query["state"], self.state);
        query["code"].clone()
    }

    /// Redeems a code: (status, JSON).
    pub async fn redeem(&self, code: &str, verifier: &str) -> (u16, serde_json::Value) {
        token(
            self.gw,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", &self.client_id),
                ("redirect_uri", &self.redirect),
                ("code_verifier", verifier),
                ("resource", &self.gw.url()),
            ],
        )
        .await
    }
}

/// Posts to the token endpoint: (status, JSON).
pub async fn token(gw: &Gateway, pairs: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let a = answer(
        http()
            .post(format!("{}/oauth/token", gw.base()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs)),
    )
    .await;
    assert_eq!(a.header("cache-control").as_deref(), Some("no-store"));
    (a.status, serde_json::from_str(&a.body).unwrap())
}
