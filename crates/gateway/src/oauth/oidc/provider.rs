//! Talking to the external OpenID Connect provider: discovery (its issuer must match the
//! configured one exactly), its signing keys (cached, refetched on an unknown `kid` at a
//! bounded rate), the code exchange, and UserInfo when the ID token lacks the email.

use crate::config::{HumanClaim, OidcConfig};
use mandate_auth::id_token::{
    IdTokenError, IdTokenExpectations, Identity, KeySetError, ProviderKeys, verify_id_token,
};
use reqwest::Url;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long one request to the provider may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest document read from the provider.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// How long discovered metadata is used before it is fetched again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The soonest the keys are fetched again for a token naming a key not in the cached set:
/// forged `kid`s cannot make the gateway hammer the provider.
pub(super) const MIN_KEY_REFRESH: Duration = Duration::from_secs(30);
/// Clock skew tolerated between the provider and this gateway.
const LEEWAY_SECS: i64 = 60;

/// Why signing in at the provider failed. The texts are shown to the person signing in.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProviderError {
    #[error("the sign-in provider cannot be reached ({0})")]
    Unreachable(&'static str),
    #[error("the sign-in provider's {0} is invalid: {1}")]
    BadDocument(&'static str, String),
    #[error("the sign-in provider says its issuer is `{found}`, not the configured `{expected}`")]
    IssuerMismatch { expected: String, found: String },
    #[error("the sign-in provider's `{0}` is not an allowed URL")]
    BadEndpoint(&'static str),
    #[error("the sign-in provider supports neither client_secret_basic nor client_secret_post")]
    NoClientAuthentication,
    #[error("the sign-in provider refused the code: {0}")]
    CodeRefused(String),
    #[error(transparent)]
    Keys(#[from] KeySetError),
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
}

/// What Mandate reads of the provider's metadata.
#[derive(Debug, Deserialize)]
struct RawMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// How Mandate authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    Basic,
    Post,
}

/// The checked metadata.
#[derive(Debug)]
pub(super) struct Metadata {
    pub(super) authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
    userinfo_endpoint: Option<Url>,
    client_auth: ClientAuth,
}

/// The token endpoint's answer, the fields Mandate reads.
#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Default)]
struct KeyCache {
    keys: Option<Arc<ProviderKeys>>,
    fetched: Option<Instant>,
}

/// The provider, as this gateway knows it.
pub(super) struct Provider {
    pub(super) config: OidcConfig,
    pub(super) redirect_uri: String,
    http: reqwest::Client,
    metadata: Mutex<Option<(Arc<Metadata>, Instant)>>,
    keys: Mutex<KeyCache>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Provider {
    pub(super) fn new(config: OidcConfig, public_url: &str) -> Self {
        // The provider's redirects are not followed: every URL used is one it published.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            config,
            redirect_uri: format!("{public_url}/oauth/oidc/callback"),
            http,
            metadata: Mutex::default(),
            keys: Mutex::default(),
        }
    }

    /// The provider's metadata, discovered at most once an hour.
    pub(super) async fn metadata(&self) -> Result<Arc<Metadata>, ProviderError> {
        if let Some((m, at)) = lock(&self.metadata).as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(Arc::clone(m));
        }
        let issuer = &self.config.issuer;
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let url = Url::parse(&url).map_err(|_| ProviderError::BadEndpoint("issuer"))?;
        let raw: RawMetadata = self.fetch_json(url, "discovery document").await?;
        // OpenID Connect Discovery §4.3: identical, character for character.
        if raw.issuer != *issuer {
            return Err(ProviderError::IssuerMismatch {
                expected: issuer.clone(),
                found: raw.issuer,
            });
        }
        let metadata = Arc::new(self.check_metadata(raw)?);
        *lock(&self.metadata) = Some((Arc::clone(&metadata), Instant::now()));
        Ok(metadata)
    }

    fn check_metadata(&self, raw: RawMetadata) -> Result<Metadata, ProviderError> {
        let endpoint = |text: &str, name| {
            Url::parse(text)
                .ok()
                .filter(|u| self.config.schemes.allows(u))
                .ok_or(ProviderError::BadEndpoint(name))
        };
        let methods = &raw.token_endpoint_auth_methods_supported;
        // Absent means client_secret_basic (Discovery §3).
        let client_auth =
            if methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic") {
                ClientAuth::Basic
            } else if methods.iter().any(|m| m == "client_secret_post") {
                ClientAuth::Post
            } else {
                return Err(ProviderError::NoClientAuthentication);
            };
        Ok(Metadata {
            authorization_endpoint: endpoint(
                &raw.authorization_endpoint,
                "authorization_endpoint",
            )?,
            token_endpoint: endpoint(&raw.token_endpoint, "token_endpoint")?,
            jwks_uri: endpoint(&raw.jwks_uri, "jwks_uri")?,
            userinfo_endpoint: raw
                .userinfo_endpoint
                .as_deref()
                .map(|u| endpoint(u, "userinfo_endpoint"))
                .transpose()?,
            client_auth,
        })
    }

    /// The scope asked for: the email claims only when they name the human.
    pub(super) fn scope(&self) -> &'static str {
        match self.config.human {
            HumanClaim::VerifiedEmail => "openid email",
            HumanClaim::Subject { .. } => "openid",
        }
    }

    /// Exchanges the code (with the PKCE verifier) and verifies the ID token it yields.
    pub(super) async fn sign_in(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Identity, ProviderError> {
        let metadata = self.metadata().await?;
        let answer = self.exchange(&metadata, code, verifier).await?;
        let id_token = answer
            .id_token
            .ok_or_else(|| ProviderError::CodeRefused("no ID token came back".into()))?;
        let verified = match self.verify(&metadata, &id_token, nonce, false).await {
            Err(ProviderError::IdToken(IdTokenError::UnknownKey)) => {
                // The provider may have rotated its keys since they were cached.
                self.verify(&metadata, &id_token, nonce, true).await?
            }
            other => other?,
        };
        let wants_email = self.config.human == HumanClaim::VerifiedEmail;
        match (&metadata.userinfo_endpoint, answer.access_token) {
            (Some(userinfo), Some(access)) if wants_email && verified.lacks_email() => {
                let request = self.http.get(userinfo.clone()).bearer_auth(access);
                let info: serde_json::Value = read_json(request, "user info").await?;
                Ok(verified.with_userinfo(&info)?)
            }
            _ => Ok(verified.into_identity()),
        }
    }

    async fn exchange(
        &self,
        metadata: &Metadata,
        code: &str,
        verifier: &str,
    ) -> Result<TokenAnswer, ProviderError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let id = self.config.client_id.as_str();
        let secret = self.config.client_secret.expose();
        let mut request = self.http.post(metadata.token_endpoint.clone());
        match metadata.client_auth {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: each part form-encoded before the Basic encoding.
                let encode =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                request = request.basic_auth(encode(id), Some(encode(secret)));
            }
            ClientAuth::Post => form.extend([("client_id", id), ("client_secret", secret)]),
        }
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = request
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable("token endpoint", &e))?;
        let status = response.status();
        let answer: TokenAnswer =
            parse(read_body(response, "token answer").await?, "token answer")?;
        if !status.is_success() || answer.error.is_some() {
            let error = answer.error.unwrap_or_else(|| status.to_string());
            return Err(ProviderError::CodeRefused(error));
        }
        Ok(answer)
    }

    async fn verify(
        &self,
        metadata: &Metadata,
        id_token: &str,
        nonce: &str,
        refresh: bool,
    ) -> Result<mandate_auth::id_token::VerifiedIdToken, ProviderError> {
        let keys = self.keys(metadata, refresh).await?;
        let expected = IdTokenExpectations {
            issuer: &self.config.issuer,
            client_id: &self.config.client_id,
            nonce,
            now: crate::now().as_secs(),
            leeway_secs: LEEWAY_SECS,
        };
        Ok(verify_id_token(id_token, &keys, &expected)?)
    }

    /// The cached keys; with `refresh`, fetched again unless they were fetched within
    /// [`MIN_KEY_REFRESH`].
    async fn keys(
        &self,
        metadata: &Metadata,
        refresh: bool,
    ) -> Result<Arc<ProviderKeys>, ProviderError> {
        {
            let cache = lock(&self.keys);
            let recent = cache
                .fetched
                .is_some_and(|at| at.elapsed() < MIN_KEY_REFRESH);
            match &cache.keys {
                Some(keys) if !refresh || recent => return Ok(Arc::clone(keys)),
                None if recent => return Err(ProviderError::Unreachable("signing keys")),
                _ => {}
            }
        }
        lock(&self.keys).fetched = Some(Instant::now());
        let body = read_body(
            self.http
                .get(metadata.jwks_uri.clone())
                .send()
                .await
                .map_err(|e| unreachable("signing keys", &e))?,
            "signing keys",
        )
        .await?;
        let keys = Arc::new(ProviderKeys::from_jwks(&body)?);
        lock(&self.keys).keys = Some(Arc::clone(&keys));
        tracing::info!(issuer = %self.config.issuer, keys = keys.len(), "fetched the sign-in provider's keys");
        Ok(keys)
    }

    async fn fetch_json<T: DeserializeOwned>(
        &self,
        url: Url,
        what: &'static str,
    ) -> Result<T, ProviderError> {
        read_json(self.http.get(url), what).await
    }
}

fn unreachable(what: &'static str, e: &reqwest::Error) -> ProviderError {
    tracing::warn!(error = %e, what, "cannot reach the sign-in provider");
    ProviderError::Unreachable(what)
}

async fn read_json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &'static str,
) -> Result<T, ProviderError> {
    let response = request.send().await.map_err(|e| unreachable(what, &e))?;
    if !response.status().is_success() {
        tracing::warn!(status = %response.status(), what, "the sign-in provider answered with an error");
        return Err(ProviderError::Unreachable(what));
    }
    parse(read_body(response, what).await?, what)
}

fn parse<T: DeserializeOwned>(body: Vec<u8>, what: &'static str) -> Result<T, ProviderError> {
    serde_json::from_slice(&body).map_err(|e| ProviderError::BadDocument(what, e.to_string()))
}

async fn read_body(
    mut response: reqwest::Response,
    what: &'static str,
) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(what, &e))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(ProviderError::BadDocument(what, "it is too large".into()));
        }
    }
    Ok(body)
}
