//! A provider's JSON Web Key Set (RFC 7517) turned into the keys that may
//! verify its access tokens.
//!
//! Each key is read on its own: a key of a type or curve this crate does
//! not verify with (`oct`, P-521, X25519, a future type), an encryption key
//! (`use: enc`), an RSA key under 2048 bits or a key that does not decode
//! is left out without failing the others. A key's `alg`, when present,
//! binds it to that one algorithm.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// The algorithms provider tokens may be signed with.
pub const PROVIDER_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// One verification key of a provider.
pub(crate) struct ProviderKey {
    pub(crate) kid: Option<String>,
    /// The algorithms this key verifies: one when the JWK names its `alg`,
    /// RS256 and PS256 for an RSA key that does not.
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) key: DecodingKey,
}

/// The usable keys of a key set, and how many were left out.
pub(crate) struct KeySet {
    pub(crate) keys: Vec<ProviderKey>,
    pub(crate) ignored: usize,
}

impl KeySet {
    /// The keys that may verify a token whose header names `kid` and `alg`.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a ProviderKey> + 'a {
        self.keys
            .iter()
            .filter(move |key| kid.is_none() || key.kid.as_deref() == kid)
            .filter(move |key| key.algorithms.contains(&alg))
    }

    /// Whether any key has `kid` (whatever its algorithm).
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid.as_deref() == Some(kid))
    }
}

/// Reads a key set document: `{"keys": [..]}`. `Err` when the document is
/// not one, or holds no usable key.
pub(crate) fn parse_key_set(body: &[u8]) -> Result<KeySet, String> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|_| "the key set is not a JWK Set".to_owned())?;
    let total = document.keys.len();
    let keys: Vec<ProviderKey> = document.keys.into_iter().filter_map(usable).collect();
    if keys.is_empty() {
        return Err(format!(
            "the key set has no usable signing key ({total} key(s) of other types or uses)"
        ));
    }
    Ok(KeySet {
        ignored: total - keys.len(),
        keys,
    })
}

fn usable(value: serde_json::Value) -> Option<ProviderKey> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let named = match &jwk.common.key_algorithm {
        None => None,
        Some(alg) => Some(algorithm_of(alg)?),
    };
    let fits = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let modulus = base64_len(&rsa.n)?;
            if modulus < MIN_RSA_MODULUS_BYTES {
                return None;
            }
            vec![Algorithm::RS256, Algorithm::PS256]
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
            _ => return None,
        },
        // A shared secret is never published by a provider for verification.
        AlgorithmParameters::OctetKey(_) => return None,
    };
    let algorithms = match named {
        Some(alg) if fits.contains(&alg) => vec![alg],
        Some(_) => return None,
        None => fits,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(ProviderKey {
        kid: jwk.common.key_id,
        algorithms,
        key,
    })
}

fn algorithm_of(alg: &KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The decoded length of a base64url value, without decoding it.
fn base64_len(value: &str) -> Option<usize> {
    let trimmed = value.trim_end_matches('=');
    if !trimmed
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some(trimmed.len() * 3 / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_P256: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn odd_keys_are_left_out_without_failing_the_set() {
        let body = format!(
            r#"{{"keys":[
                {EC_P256},
                {{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}},
                {{"kty":"OKP","crv":"X25519","x":"AAAA","kid":"x"}},
                {{"kty":"EC","crv":"P-256","use":"enc","kid":"enc","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}},
                {{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"tiny"}},
                {{"kty":"PQC","kid":"future","pub":"abc"}},
                {{"kty":"EC","crv":"P-256","alg":"ES384","kid":"mismatch","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}},
                "not even an object"
            ]}}"#
        );
        let set = parse_key_set(body.as_bytes()).expect("one usable key");
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.ignored, 7);
        assert_eq!(set.keys[0].algorithms, vec![Algorithm::ES256]);
        assert!(set.has_kid("ec") && !set.has_kid("hmac"));
        assert_eq!(set.candidates(Some("ec"), Algorithm::ES256).count(), 1);
        assert_eq!(set.candidates(Some("ec"), Algorithm::RS256).count(), 0);
    }

    #[test]
    fn a_keys_alg_binds_it_and_an_rsa_key_without_one_takes_rs256_and_ps256() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../../benches/fixtures/provider-keys.json"))
                .expect("fixture");
        let bound = fixture["RS256"]["jwk"].clone();
        let mut free = bound.clone();
        free.as_object_mut().map(|k| k.remove("alg"));
        free["kid"] = "free".into();
        let body = serde_json::json!({"keys": [bound, free]}).to_string();
        let set = parse_key_set(body.as_bytes()).expect("two keys");
        assert_eq!(set.candidates(Some("rs256"), Algorithm::RS256).count(), 1);
        assert_eq!(set.candidates(Some("rs256"), Algorithm::PS256).count(), 0);
        assert_eq!(set.candidates(Some("free"), Algorithm::PS256).count(), 1);
        assert_eq!(set.candidates(None, Algorithm::RS256).count(), 2);
    }

    #[test]
    fn a_set_without_usable_keys_or_not_a_set_is_refused() {
        assert!(parse_key_set(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).is_err());
        assert!(parse_key_set(b"<html>").is_err());
        assert!(parse_key_set(br#"{"keys":{}}"#).is_err());
    }
}
