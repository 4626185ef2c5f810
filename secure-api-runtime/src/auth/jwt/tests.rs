use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Value, json};

const SECRET: &[u8] = b"unit-test secret that is long enough!!";

fn jwt(keys: Vec<JwtKey>, issuer: Option<&str>, audience: Option<&str>) -> Jwt {
    let settings = JwtSettings {
        keys,
        issuer: issuer.map(str::to_owned),
        audience: audience.map(str::to_owned),
        leeway: 30,
        access_ttl: Duration::from_secs(900),
    };
    match Jwt::new(settings) {
        Ok(jwt) => jwt,
        Err(e) => panic!("test keys are valid: {e}"),
    }
}

fn hs256() -> Jwt {
    jwt(vec![JwtKey::hs256(SECRET.to_vec())], None, None)
}

fn good_claims() -> Value {
    let now = now_secs();
    json!({"sub": "7", "roles": ["user"], "jti": "abc", "iat": now, "exp": now + 600})
}

fn sign(header: &Header, claims: &Value, secret: &[u8]) -> String {
    match jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret)) {
        Ok(token) => token,
        Err(e) => panic!("signing a test token: {e}"),
    }
}

fn with(claims: Value, key: &str, value: Value) -> Value {
    let mut claims = claims;
    claims[key] = value;
    claims
}

fn without(claims: Value, key: &str) -> Value {
    let mut claims = claims;
    if let Some(map) = claims.as_object_mut() {
        map.remove(key);
    }
    claims
}

#[test]
fn a_valid_token_yields_its_principal() {
    let token = sign(&Header::default(), &good_claims(), SECRET);
    let principal = hs256().verify(&token);
    assert!(
        matches!(&principal, Ok(p) if p.sub == "7" && p.roles == ["user"] && p.jti == "abc"),
        "{principal:?}"
    );
}

#[test]
fn issued_tokens_verify() {
    let jwt = hs256();
    let issued = jwt.issue("42", &["admin".to_owned()], None, false);
    let Ok(issued) = issued else {
        panic!("issue failed: {issued:?}")
    };
    assert_eq!(issued.expires_in, 900);
    let principal = jwt.verify(&issued.token);
    assert!(
        matches!(&principal, Ok(p) if p.sub == "42" && p.jti == issued.jti),
        "{principal:?}"
    );
}

#[test]
fn another_key_is_a_bad_signature() {
    let token = sign(
        &Header::default(),
        &good_claims(),
        b"some other secret entirely, also long",
    );
    assert_eq!(hs256().verify(&token), Err(TokenError::BadSignature));
}

#[test]
fn alg_none_is_refused() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(good_claims().to_string());
    let token = format!("{header}.{claims}.");
    assert_eq!(hs256().verify(&token), Err(TokenError::Malformed));
}

#[test]
fn an_algorithm_other_than_the_keys_is_refused() {
    let token = sign(&Header::new(Algorithm::HS512), &good_claims(), SECRET);
    assert_eq!(hs256().verify(&token), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn expired_and_future_tokens_are_refused() {
    let now = now_secs();
    let expired = with(good_claims(), "exp", json!(now - 120));
    assert_eq!(
        hs256().verify(&sign(&Header::default(), &expired, SECRET)),
        Err(TokenError::Expired)
    );
    let not_before = with(good_claims(), "nbf", json!(now + 300));
    assert_eq!(
        hs256().verify(&sign(&Header::default(), &not_before, SECRET)),
        Err(TokenError::NotYetValid)
    );
    let issued_later = with(good_claims(), "iat", json!(now + 300));
    assert_eq!(
        hs256().verify(&sign(&Header::default(), &issued_later, SECRET)),
        Err(TokenError::NotYetValid)
    );
}

#[test]
fn leeway_tolerates_small_clock_skew() {
    let now = now_secs();
    let just_expired = with(good_claims(), "exp", json!(now - 5));
    assert!(
        hs256()
            .verify(&sign(&Header::default(), &just_expired, SECRET))
            .is_ok()
    );
}

#[test]
fn each_required_claim_must_be_present() {
    for claim in ["sub", "exp", "iat", "jti"] {
        let token = sign(&Header::default(), &without(good_claims(), claim), SECRET);
        assert_eq!(
            hs256().verify(&token),
            Err(TokenError::BadClaims),
            "without {claim}"
        );
    }
}

#[test]
fn a_claim_of_the_wrong_type_is_a_rejection() {
    let cases = [
        ("sub", json!(7)),
        ("exp", json!("tomorrow")),
        ("iat", json!("now")),
        ("jti", json!(1)),
        ("nbf", json!("never")),
        ("roles", json!("admin")),
        ("roles", json!(null)),
        ("sub", json!("")),
    ];
    for (claim, value) in cases {
        let token = sign(
            &Header::default(),
            &with(good_claims(), claim, value.clone()),
            SECRET,
        );
        let result = hs256().verify(&token);
        assert!(
            matches!(result, Err(TokenError::BadClaims | TokenError::Malformed)),
            "{claim} = {value} gave {result:?}"
        );
    }
}

#[test]
fn critical_header_extensions_are_refused() {
    let header = Header {
        crit: Some(vec!["exp".to_owned()]),
        ..Header::default()
    };
    let token = sign(&header, &good_claims(), SECRET);
    assert_eq!(hs256().verify(&token), Err(TokenError::CriticalHeader));
}

#[test]
fn kid_selects_the_key_and_unknown_kids_are_refused() {
    let old: &[u8] = b"the previous secret, still accepted for now";
    let jwt = jwt(
        vec![
            JwtKey::hs256(SECRET.to_vec()).with_kid("new"),
            JwtKey::hs256(old.to_vec()).with_kid("old"),
        ],
        None,
        None,
    );
    let mut header = Header {
        kid: Some("old".to_owned()),
        ..Header::default()
    };
    assert!(jwt.verify(&sign(&header, &good_claims(), old)).is_ok());
    // A token signed with the old secret but claiming the new kid fails.
    header.kid = Some("new".to_owned());
    assert_eq!(
        jwt.verify(&sign(&header, &good_claims(), old)),
        Err(TokenError::BadSignature)
    );
    header.kid = Some("elsewhere".to_owned());
    assert_eq!(
        jwt.verify(&sign(&header, &good_claims(), old)),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let jwt = jwt(
        vec![JwtKey::hs256(SECRET.to_vec())],
        Some("https://id.example"),
        Some("api"),
    );
    let good = with(
        with(good_claims(), "iss", json!("https://id.example")),
        "aud",
        json!("api"),
    );
    assert!(jwt.verify(&sign(&Header::default(), &good, SECRET)).is_ok());
    let wrong_iss = with(good.clone(), "iss", json!("https://evil.example"));
    assert_eq!(
        jwt.verify(&sign(&Header::default(), &wrong_iss, SECRET)),
        Err(TokenError::WrongIssuerOrAudience)
    );
    let wrong_aud = with(good.clone(), "aud", json!("other"));
    assert_eq!(
        jwt.verify(&sign(&Header::default(), &wrong_aud, SECRET)),
        Err(TokenError::WrongIssuerOrAudience)
    );
    let no_iss = without(good, "iss");
    assert_eq!(
        jwt.verify(&sign(&Header::default(), &no_iss, SECRET)),
        Err(TokenError::BadClaims)
    );
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let token = "a".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(hs256().verify(&token), Err(TokenError::TooLarge));
}

#[test]
fn configuration_errors_are_reported() {
    let settings = |keys, leeway| JwtSettings {
        keys,
        issuer: None,
        audience: None,
        leeway,
        access_ttl: Duration::from_secs(1),
    };
    // Without keys (tokens from OpenID providers only) nothing is signed.
    assert!(Jwt::new(settings(vec![], 0)).is_ok_and(|jwt| matches!(
        jwt.issue("1", &[], None, false),
        Err(TokenError::NoSigningKey)
    )));
    assert!(Jwt::new(settings(vec![JwtKey::hs256(SECRET.to_vec())], 61)).is_err());
    assert!(
        Jwt::new(settings(
            vec![JwtKey::rs256_public_pem(b"not a pem".to_vec())],
            0
        ))
        .is_err()
    );
    let twins = vec![
        JwtKey::hs256(SECRET.to_vec()).with_kid("a"),
        JwtKey::hs256(SECRET.to_vec()).with_kid("a"),
    ];
    assert!(Jwt::new(settings(twins, 0)).is_err());
}

#[test]
fn a_verify_only_key_cannot_issue() {
    let jwt = jwt(
        vec![JwtKey::ed25519_public_pem(
            ED25519_PUBLIC.as_bytes().to_vec(),
        )],
        None,
        None,
    );
    assert_eq!(
        jwt.issue("1", &[], None, false).map(|t| t.jti),
        Err(TokenError::NoSigningKey)
    );
}

#[test]
fn eddsa_keys_sign_and_verify() {
    let key = JwtKey::ed25519_public_pem(ED25519_PUBLIC.as_bytes().to_vec())
        .with_private_pem(ED25519_PRIVATE.as_bytes().to_vec())
        .with_kid("ed");
    let jwt = jwt(vec![key], None, None);
    let issued = jwt.issue("9", &[], None, false);
    let Ok(issued) = issued else {
        panic!("{issued:?}")
    };
    assert!(jwt.verify(&issued.token).is_ok());
    // An HS256 token whose secret is the public key (algorithm confusion) fails.
    let header = Header {
        kid: Some("ed".to_owned()),
        ..Header::default()
    };
    let forged = sign(&header, &good_claims(), ED25519_PUBLIC.as_bytes());
    assert_eq!(jwt.verify(&forged), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn rs256_keys_sign_and_verify_and_refuse_hs256_forgeries() {
    let key = JwtKey::rs256_public_pem(RSA_PUBLIC.as_bytes().to_vec())
        .with_private_pem(RSA_PRIVATE.as_bytes().to_vec())
        .with_kid("rsa");
    let jwt = jwt(vec![key], None, None);
    let issued = jwt.issue("3", &["user".to_owned()], None, false);
    let Ok(issued) = issued else {
        panic!("{issued:?}")
    };
    assert!(matches!(jwt.verify(&issued.token), Ok(p) if p.sub == "3"));
    let header = Header {
        kid: Some("rsa".to_owned()),
        ..Header::default()
    };
    let forged = sign(&header, &good_claims(), RSA_PUBLIC.as_bytes());
    assert_eq!(jwt.verify(&forged), Err(TokenError::AlgorithmNotAllowed));
}

const RSA_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCexVP4l3vFXiaE
DL+6haPN58q37NxIaur9vRa/BEpZgY5rCu7Iri1PKJ+QMXDRUM2i5ADGxPHk2FkI
eAP8ONK0kpEQlcv1B0LdCOSw9kIApW5sV7U13hewpT6Xp6XyQAVVIWMZNvDEdoIh
utLYCIKPc+s8bV7XnXJRMsQ2NkKUJfOLd0ViizXDq4n7xj2Omsio0nouQOHNngbj
t8v8RYW/hkzXrZYJN0k9DcW/hyOFKGtPygpkZezYIxdGvboLVrf3Vj6nvCjMtCDU
UrwrjchVNxXhCB+tCmkb+uZVTOcuk3jCHT5YCJDe8rd4lNCWdQipRDzxEHFrsiiE
Hj4OnlZxAgMBAAECggEAQDrC8CfUJfGjMjt4GsxyiltxinuTV+aM/y5OM+NX8qKz
S0GGfP/di477Ehm2Mq92KSYE3GSTGQme5wqqThBsySkb73IyKwOPfJza624MIHfM
Vp8ay1p4CfmnezGStBBLN/fEP9CWkVwB5ARQxJ2Yt9DkwrLaMe7bbtbTQr0rrQOU
JhILv0MUbqNk2AblTpQdBmALGXc0Rf6y6CdBj8VrsPVP3hxmeXKZWC+Mva/pVsh0
qJXPT3uoCWBKKf/IROI59CZaWuovsnlh4FshRKjVmGllyi076vtEjsZDe2HZMEyo
paG66Lh0LaLehC25Dx+IUW2//YwA2QStEnIuF1YyuwKBgQDRwrMls7Aa9fNILCFe
XUIe5c+kjZ0ObZR34Bfu5oXufJ3VXQusTSHImQiz1InuO9O07b64Am+ToXD1Jlyw
o++/yf6x/23j0X2enaPTSPrgDYtCxpQuq7ah7R18U0HeB2ySxYUOqZDVyJdrIaQw
A9su5RS0OgPDkdTlfVQsqLTvgwKBgQDBxScn2BQIlzHrrVbjYPl15oPOu7ATnQiP
apLCMrOZRB/qvcgDmqeiv0UBuQr6I0i8JalunQvt1zEXrlC5t7buTiPNyIvPTKY8
1FL68Yecxh0/54heDlO4QTevFFoo4qeu9c7APAc43jeb2tdMN08ibAXEwIgXWHOw
Yx7mGemr+wKBgA4jIjHbT3Yxt2jY2JLklC1C7eC4TqqHRidiKhrG3KX7LiQQNlYx
iKJddhGwtG8jBxy9nUoHl/+KNPPA1yRsmB8D/S9/+KcPGnlTRJRb6dSp9QXWHmya
1B9LvN4BOoI9W9r0hwg683EFKPdmeAtoZyBc/i07b7+Bl6iz7rVn1XIDAoGADVcl
evjFaFIAfdlRQhZLFnLoYDNLzA3jqPwNXpFfDA5EpESsoJLlN68zcQrsVoxXVZzC
LXtidt1548d8h0y+q2l1zZUhCwSb7VQw4lX+oCyDlwK5wL/7w5O54bPlASuZn9IM
ie+YD7I84d4PNJAaQqRtQT6AIBtW2633UqA2FkECgYAXBrCaY/qj+1D0GoPtrFI5
4yL3veQqlWgpUzH8Q3tqTjKg5heSLlvOXnU4BLoayfYHwRjVATEbFd0IpvyaB3cl
sIEC4n8UXxULwFtLe9VUEyPDRVLuQaFOQpMpoM5eUeGHIny9iZ5LwPcdAkaQt7+/
FLrqlS3iNKk0L+yaFKlxgg==
-----END PRIVATE KEY-----
";
const RSA_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnsVT+Jd7xV4mhAy/uoWj
zefKt+zcSGrq/b0WvwRKWYGOawruyK4tTyifkDFw0VDNouQAxsTx5NhZCHgD/DjS
tJKREJXL9QdC3QjksPZCAKVubFe1Nd4XsKU+l6el8kAFVSFjGTbwxHaCIbrS2AiC
j3PrPG1e151yUTLENjZClCXzi3dFYos1w6uJ+8Y9jprIqNJ6LkDhzZ4G47fL/EWF
v4ZM162WCTdJPQ3Fv4cjhShrT8oKZGXs2CMXRr26C1a391Y+p7wozLQg1FK8K43I
VTcV4QgfrQppG/rmVUznLpN4wh0+WAiQ3vK3eJTQlnUIqUQ88RBxa7IohB4+Dp5W
cQIDAQAB
-----END PUBLIC KEY-----
";

const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIOidx7GthBl4CAknrqOlfkbgCrEJrq4TH72GGKRTtNXD
-----END PRIVATE KEY-----
";
const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAoKDTClMjtv0zgr3FeAiBzH7W3VHaSUX7Rxa7MUX93BE=
-----END PUBLIC KEY-----
";

proptest! {
    #[test]
    fn arbitrary_input_is_refused_without_panicking(input in "\\PC{0,300}") {
        let refused = hs256().verify(&input).is_err();
        prop_assert!(refused);
    }

    #[test]
    fn arbitrary_three_segment_tokens_are_refused(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,90}") {
        let token = format!("{a}.{b}.{c}");
        prop_assert!(hs256().verify(&token).is_err());
    }

    #[test]
    fn tampered_payloads_are_refused(byte in 0usize..40, flip in 1u8..=255) {
        let token = sign(&Header::default(), &good_claims(), SECRET);
        let mut parts: Vec<Vec<u8>> = token.split('.').map(|p| p.as_bytes().to_vec()).collect();
        let payload = URL_SAFE_NO_PAD.decode(&parts[1]).unwrap_or_default();
        let mut payload = payload;
        let index = byte % payload.len().max(1);
        if let Some(b) = payload.get_mut(index) { *b ^= flip; }
        parts[1] = URL_SAFE_NO_PAD.encode(&payload).into_bytes();
        let tampered = parts.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>().join(".");
        let refused = hs256().verify(&tampered).is_err();
        prop_assert!(refused);
    }
}

#[test]
fn a_remembered_token_still_expires() {
    let jwt = hs256();
    let now = now_secs();
    // Expires 5 s ago: inside the 30 s leeway, so it verifies and is remembered.
    let token = sign(
        &Header::default(),
        &with(good_claims(), "exp", json!(now - 5)),
        SECRET,
    );
    assert!(jwt.verify(&token).is_ok());
    assert!(jwt.verify(&token).is_ok(), "served from the cache");
    // Past the leeway the cached entry no longer answers.
    assert!(jwt.cache.get(token.as_bytes(), now + 60).is_none());
}

#[test]
fn refused_tokens_are_not_remembered() {
    let jwt = hs256();
    let forged = sign(
        &Header::default(),
        &good_claims(),
        b"some other secret entirely, also long",
    );
    assert!(jwt.verify(&forged).is_err());
    assert_eq!(jwt.cache.len(), 0);
}

#[test]
fn only_login_tokens_carry_auth_time() {
    let jwt = hs256();
    let login = jwt
        .issue("5", &[], None, true)
        .map(|t| jwt.verify(&t.token));
    let Ok(Ok(login)) = login else {
        panic!("login token: {login:?}")
    };
    assert!(login.auth_time.is_some_and(|t| t + 5 >= now_secs()));
    let refreshed = jwt
        .issue("5", &[], None, false)
        .map(|t| jwt.verify(&t.token));
    assert!(matches!(refreshed, Ok(Ok(p)) if p.auth_time.is_none()));
}
