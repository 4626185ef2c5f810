//! A second factor: time-based one-time codes (TOTP, RFC 6238) through
//! `totp-rs`, SHA-1, six digits, 30-second steps, one step of skew, and
//! each step accepted at most once.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use totp_rs::{Builder, Secret, Totp};

/// A TOTP shared secret (160 random bits), in base32 as authenticator apps
/// take it. Never printed by `Debug`.
#[derive(Clone)]
pub struct TotpSecret(SecretString);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let bytes = crate::util::random_bytes::<20>()?;
        Ok(Self(SecretString::from(Secret::from(bytes).to_base32())))
    }

    /// A stored secret, in base32.
    pub fn from_base32(encoded: &str) -> Self {
        Self(SecretString::from(encoded.to_owned()))
    }

    /// The base32 form, to store and to show once at enrolment.
    pub fn expose_base32(&self) -> &str {
        self.0.expose_secret()
    }

    /// The `otpauth://` URI authenticator apps scan, naming `issuer` and
    /// `account` (percent-encoded).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
            encode(issuer),
            encode(account),
            self.expose_base32(),
            encode(issuer)
        )
    }

    fn totp(&self) -> Option<Totp> {
        let secret = Secret::try_from_base32(self.expose_base32()).ok()?;
        Builder::new().with_secret(secret).build().ok()
    }

    /// The current code at `time` (seconds since the epoch), for tests and
    /// tools.
    pub fn code_at(&self, time: u64) -> Option<String> {
        self.totp().map(|totp| totp.generate(time).to_string())
    }

    /// Checks `code` at `time`. Returns the matched step, which the caller
    /// stores; a step at or before `last_step` is refused, so a code works
    /// once.
    pub fn verify(&self, code: &str, time: u64, last_step: Option<u64>) -> Option<u64> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let step = self.totp()?.check(code, time)?;
        match last_step {
            Some(last) if step <= last => None,
            _ => Some(step),
        }
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vector() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s gives
        // 94287082 in eight digits; six digits keep the last six.
        let secret = TotpSecret::from_base32(&Secret::from(*b"12345678901234567890").to_base32());
        assert_eq!(secret.code_at(59).as_deref(), Some("287082"));
        assert_eq!(secret.verify("287082", 59, None), Some(1));
    }

    #[test]
    fn a_code_works_once_and_only_near_its_time() {
        let secret = TotpSecret::generate().expect("test setup");
        let now = 1_800_000_000;
        let code = secret.code_at(now).expect("test setup");
        let step = secret.verify(&code, now, None).expect("test setup");
        assert_eq!(secret.verify(&code, now, Some(step)), None);
        assert_eq!(secret.verify(&code, now + 600, None), None);
        assert_eq!(secret.verify("12345", now, None), None);
        assert_eq!(secret.verify("abcdef", now, None), None);
        assert!(!format!("{secret:?}").contains(secret.expose_base32()));
        assert!(
            secret
                .otpauth_uri("Example API", "a@b")
                .starts_with("otpauth://totp/Example%20API:a%40b?secret=")
        );
    }
}
