//! JWT access tokens: verification with an explicit algorithm allowlist and
//! key selection by `kid`, and issuance for the configured signing key.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};

use super::Principal;
use super::cache::VerifiedCache;
use crate::util::{now_secs, random_id};

/// Tokens longer than this are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The largest clock leeway a configuration may set, in seconds.
pub const MAX_LEEWAY_SECS: u64 = 60;

/// Why a token was refused. The reason is logged; the client only learns
/// that the token is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The token is longer than [`MAX_TOKEN_BYTES`].
    #[error("token is larger than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    /// Not three base64url segments with a JSON header.
    #[error("token is malformed")]
    Malformed,
    /// The header names critical extensions, none of which are understood.
    #[error("token header has critical extensions")]
    CriticalHeader,
    /// No configured key has the token's `kid`.
    #[error("token names an unknown key")]
    UnknownKey,
    /// The header's `alg` is not the algorithm of the selected key.
    #[error("token algorithm is not allowed for its key")]
    AlgorithmNotAllowed,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iss` or `aud` is not the configured one.
    #[error("token issuer or audience is not accepted")]
    WrongIssuerOrAudience,
    /// A required claim is missing, empty or of the wrong JSON type.
    #[error("token claims are missing or of the wrong type")]
    BadClaims,
    /// Issuing failed: no signing key is configured.
    #[error("no signing key is configured")]
    NoSigningKey,
    /// Issuing failed inside the signing library.
    #[error("token could not be signed")]
    Signing,
    /// The token's issuer is a configured OpenID provider whose keys could
    /// not be loaded yet (answered 503 with `Retry-After`).
    #[error("the token issuer's keys are not available yet")]
    KeysUnavailable,
    /// The issuer requires RFC 9068 access tokens (`typ: at+jwt`) and the
    /// token is not one (an ID token, say).
    #[error("token is not an access token (typ at+jwt)")]
    NotAnAccessToken,
}

impl TokenError {
    /// A short stable name for audit logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::CriticalHeader => "critical_header",
            Self::UnknownKey => "unknown_key",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuerOrAudience => "wrong_issuer_or_audience",
            Self::BadClaims => "bad_claims",
            Self::NoSigningKey => "no_signing_key",
            Self::Signing => "signing",
            Self::KeysUnavailable => "issuer_keys_unavailable",
            Self::NotAnAccessToken => "not_an_access_token",
        }
    }
}

/// A key for access tokens: one algorithm, an optional `kid`, the material
/// to verify with and, optionally, to sign with.
///
/// The secret parts never appear in `Debug` output.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::auth::JwtKey;
///
/// let key = JwtKey::hs256(b"a secret of at least thirty-two bytes!!".to_vec()).with_kid("2026-11");
/// assert!(!format!("{key:?}").contains("thirty-two"));
/// ```
#[derive(Clone)]
pub struct JwtKey {
    kid: Option<String>,
    material: KeyMaterial,
}

#[derive(Clone)]
enum KeyMaterial {
    Hmac(SecretSlice<u8>),
    Rsa {
        public_pem: Vec<u8>,
        private_pem: Option<SecretSlice<u8>>,
    },
    Ed25519 {
        public_pem: Vec<u8>,
        private_pem: Option<SecretSlice<u8>>,
    },
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm())
            .field("can_sign", &self.can_sign())
            .finish_non_exhaustive()
    }
}

impl JwtKey {
    /// An HMAC-SHA256 shared secret: verifies and signs.
    pub fn hs256(secret: Vec<u8>) -> Self {
        Self {
            kid: None,
            material: KeyMaterial::Hmac(secret.into()),
        }
    }

    /// An RSA public key in PEM form (RS256): verifies only, unless
    /// [`JwtKey::with_private_pem`] adds the private half.
    pub fn rs256_public_pem(public_pem: Vec<u8>) -> Self {
        Self {
            kid: None,
            material: KeyMaterial::Rsa {
                public_pem,
                private_pem: None,
            },
        }
    }

    /// An Ed25519 public key in PEM form (EdDSA): verifies only, unless
    /// [`JwtKey::with_private_pem`] adds the private half.
    pub fn ed25519_public_pem(public_pem: Vec<u8>) -> Self {
        Self {
            kid: None,
            material: KeyMaterial::Ed25519 {
                public_pem,
                private_pem: None,
            },
        }
    }

    /// Names the key; tokens signed with it carry this `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Adds the private PEM of an RS256 or EdDSA key so it can sign.
    /// Has no effect on an HS256 key, whose secret already signs.
    #[must_use]
    pub fn with_private_pem(mut self, private_pem: Vec<u8>) -> Self {
        match &mut self.material {
            KeyMaterial::Rsa {
                private_pem: slot, ..
            }
            | KeyMaterial::Ed25519 {
                private_pem: slot, ..
            } => {
                *slot = Some(private_pem.into());
            }
            KeyMaterial::Hmac(_) => {}
        }
        self
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key accepts.
    pub fn algorithm(&self) -> Algorithm {
        match self.material {
            KeyMaterial::Hmac(_) => Algorithm::HS256,
            KeyMaterial::Rsa { .. } => Algorithm::RS256,
            KeyMaterial::Ed25519 { .. } => Algorithm::EdDSA,
        }
    }

    /// Whether the key can sign tokens.
    pub fn can_sign(&self) -> bool {
        match &self.material {
            KeyMaterial::Hmac(_) => true,
            KeyMaterial::Rsa { private_pem, .. } | KeyMaterial::Ed25519 { private_pem, .. } => {
                private_pem.is_some()
            }
        }
    }

    /// The length of an HMAC secret, for strength checks.
    pub(crate) fn hmac_secret_len(&self) -> Option<usize> {
        match &self.material {
            KeyMaterial::Hmac(secret) => Some(secret.expose_secret().len()),
            _ => None,
        }
    }

    /// Whether an HMAC secret is a well-known placeholder (`secret`,
    /// jwt.io's `your-256-bit-secret`, ...) or one byte repeated.
    pub(crate) fn hmac_secret_is_known_default(&self) -> bool {
        const KNOWN: [&str; 14] = [
            "secret",
            "changeme",
            "change-me",
            "change_me",
            "password",
            "supersecret",
            "your-256-bit-secret",
            "a-string-secret-at-least-256-bits-long",
            "your-secret-key",
            "jwt-secret",
            "jwt_secret",
            "development",
            "default",
            "example",
        ];
        let KeyMaterial::Hmac(secret) = &self.material else {
            return false;
        };
        let bytes = secret.expose_secret();
        let text = String::from_utf8_lossy(bytes).trim().to_ascii_lowercase();
        KNOWN.contains(&text.as_str()) || bytes.windows(2).all(|pair| pair[0] == pair[1])
    }

    fn decoding_key(&self) -> Result<DecodingKey, jsonwebtoken::errors::Error> {
        match &self.material {
            KeyMaterial::Hmac(secret) => Ok(DecodingKey::from_secret(secret.expose_secret())),
            KeyMaterial::Rsa { public_pem, .. } => DecodingKey::from_rsa_pem(public_pem),
            KeyMaterial::Ed25519 { public_pem, .. } => DecodingKey::from_ed_pem(public_pem),
        }
    }

    fn encoding_key(&self) -> Result<Option<EncodingKey>, jsonwebtoken::errors::Error> {
        match &self.material {
            KeyMaterial::Hmac(secret) => Ok(Some(EncodingKey::from_secret(secret.expose_secret()))),
            KeyMaterial::Rsa {
                private_pem: Some(pem),
                ..
            } => EncodingKey::from_rsa_pem(pem.expose_secret()).map(Some),
            KeyMaterial::Ed25519 {
                private_pem: Some(pem),
                ..
            } => EncodingKey::from_ed_pem(pem.expose_secret()).map(Some),
            _ => Ok(None),
        }
    }
}

/// The claims an access token must carry. Every field is typed: a claim of
/// the wrong JSON type fails deserialization and so refuses the token.
#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    exp: u64,
    iat: u64,
    jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    /// When the user last proved a password (OpenID Connect's claim); only
    /// on tokens issued directly by a login, never on refreshed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_time: Option<u64>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<Audience>,
    /// OAuth2 scopes, separated by spaces; never on issued tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

struct VerifyingKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
}

/// A freshly signed access token.
#[derive(Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Its unique id.
    pub jti: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("jti", &self.jti)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Verifies and issues access tokens for a set of keys.
pub(crate) struct Jwt {
    keys: Vec<VerifyingKey>,
    signer: Option<(Option<String>, Algorithm, EncodingKey)>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    access_ttl: Duration,
    cache: VerifiedCache,
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field(
                "kids",
                &self
                    .keys
                    .iter()
                    .map(|k| k.kid.as_deref())
                    .collect::<Vec<_>>(),
            )
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

/// Settings for [`Jwt::new`].
pub(crate) struct JwtSettings {
    pub keys: Vec<JwtKey>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway: u64,
    pub access_ttl: Duration,
}

impl Jwt {
    /// Builds the verifier; the first key that can sign becomes the signer.
    /// Without keys it verifies and signs nothing (tokens come from OpenID
    /// providers only).
    pub(crate) fn new(settings: JwtSettings) -> Result<Self, String> {
        if settings.leeway > MAX_LEEWAY_SECS {
            return Err(format!(
                "JWT leeway of {} s is above the maximum of {MAX_LEEWAY_SECS} s",
                settings.leeway
            ));
        }
        let mut keys = Vec::with_capacity(settings.keys.len());
        let mut signer = None;
        for key in &settings.keys {
            let name = key.kid().unwrap_or("(no kid)");
            if keys
                .iter()
                .any(|k: &VerifyingKey| k.kid.as_deref() == key.kid())
            {
                return Err(format!("two JWT keys share the kid {name}"));
            }
            let algorithm = key.algorithm();
            let mut validation = Validation::new(algorithm);
            validation.leeway = settings.leeway;
            validation.validate_exp = true;
            validation.validate_nbf = true;
            let mut required = vec!["exp", "sub"];
            match &settings.issuer {
                Some(iss) => {
                    validation.set_issuer(&[iss]);
                    required.push("iss");
                }
                None => validation.iss = None,
            }
            match &settings.audience {
                Some(aud) => {
                    validation.set_audience(&[aud]);
                    required.push("aud");
                }
                None => validation.validate_aud = false,
            }
            validation.set_required_spec_claims(&required);
            let decoding = key
                .decoding_key()
                .map_err(|e| format!("JWT key {name} cannot verify: {e}"))?;
            let encoding = key
                .encoding_key()
                .map_err(|e| format!("JWT key {name} cannot sign: {e}"))?;
            if signer.is_none()
                && let Some(encoding) = encoding
            {
                signer = Some((key.kid.clone(), algorithm, encoding));
            }
            keys.push(VerifyingKey {
                kid: key.kid.clone(),
                algorithm,
                key: decoding,
                validation,
            });
        }
        Ok(Self {
            keys,
            signer,
            issuer: settings.issuer,
            audience: settings.audience,
            leeway: settings.leeway,
            access_ttl: settings.access_ttl,
            cache: VerifiedCache::default(),
        })
    }

    /// The default lifetime of an access token.
    pub(crate) fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// The principal of a token that verified before and has not expired.
    /// A token over [`MAX_TOKEN_BYTES`] never verified, so it is not
    /// looked up (nor hashed) at all.
    pub(crate) fn cached(&self, token: &[u8]) -> Option<Arc<Principal>> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        self.cache
            .get(token, now_secs().saturating_sub(self.leeway))
    }

    /// Remembers a token that verified (with a provider's keys).
    pub(crate) fn remember(&self, token: &str, principal: &Arc<Principal>) {
        self.cache.insert(token, principal);
    }

    /// Verifies a compact JWT and returns the principal it proves, shared
    /// with the cache of verified tokens.
    #[cfg(test)]
    pub(crate) fn verify(&self, token: &str) -> Result<Arc<Principal>, TokenError> {
        match self.cached(token.as_bytes()) {
            Some(principal) => Ok(principal),
            None => self.verify_unseen(token),
        }
    }

    /// Verifies a compact JWT the cache of verified tokens does not hold
    /// (its caller looked), and remembers it.
    pub(crate) fn verify_unseen(&self, token: &str) -> Result<Arc<Principal>, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let now = now_secs();
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        // No critical header extension is understood, so any is refused.
        if header.crit.is_some() {
            return Err(TokenError::CriticalHeader);
        }
        let key = match header.kid.as_deref() {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None => self.keys.first(),
        }
        .ok_or(TokenError::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.key, &key.validation)
            .map_err(classify)?;
        let claims = data.claims;
        if claims.sub.is_empty() || claims.jti.is_empty() {
            return Err(TokenError::BadClaims);
        }
        if claims.iat > now.saturating_add(self.leeway) {
            return Err(TokenError::NotYetValid);
        }
        let principal = Arc::new(Principal {
            sub: claims.sub,
            roles: claims.roles,
            jti: claims.jti,
            exp: claims.exp,
            auth_time: claims.auth_time,
            issuer: claims.iss,
            scopes: claims
                .scope
                .map(|scope| scope.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
        });
        self.cache.insert(token, &principal);
        Ok(principal)
    }

    /// Signs an access token for `sub` with `roles`, living `ttl` (or the
    /// configured default); `login` marks a token issued by a password login.
    pub(crate) fn issue(
        &self,
        sub: &str,
        roles: &[String],
        ttl: Option<Duration>,
        login: bool,
    ) -> Result<IssuedToken, TokenError> {
        let (kid, algorithm, key) = self.signer.as_ref().ok_or(TokenError::NoSigningKey)?;
        let ttl = ttl.unwrap_or(self.access_ttl).as_secs();
        let now = now_secs();
        let jti = random_id().map_err(|_| TokenError::Signing)?;
        let claims = AccessClaims {
            sub: sub.to_owned(),
            exp: now.saturating_add(ttl),
            iat: now,
            jti: jti.clone(),
            nbf: None,
            auth_time: login.then_some(now),
            roles: roles.to_vec(),
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(Audience::One),
            scope: None,
        };
        let mut header = Header::new(*algorithm);
        header.kid = kid.clone();
        let token = jsonwebtoken::encode(&header, &claims, key).map_err(|_| TokenError::Signing)?;
        Ok(IssuedToken {
            token,
            jti,
            expires_in: ttl,
        })
    }
}

pub(crate) fn classify(error: jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => TokenError::WrongIssuerOrAudience,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            TokenError::AlgorithmNotAllowed
        }
        ErrorKind::MissingRequiredClaim(_)
        | ErrorKind::InvalidClaimFormat(_)
        | ErrorKind::InvalidSubject
        | ErrorKind::Json(_) => TokenError::BadClaims,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests;
