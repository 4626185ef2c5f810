//! Passwords (OWASP API2): a policy that names the rule a password breaks,
//! and argon2id hashing on the blocking pool behind a concurrency bound.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::observe::metrics;
use crate::problem::Problem;

/// The shortest password the default policy accepts, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password the default policy accepts, in characters.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// The common-password list shipped with the crate (from the Django
/// project, BSD-3-Clause; see `data/common-passwords.LICENSE`), lowercased.
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().collect())
}

/// Whether a password must contain a symbol (a character that is neither a
/// letter, a digit nor a space).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SymbolRule {
    /// Any characters (NIST SP 800-63B's advice: length over composition).
    #[default]
    NotRequired,
    /// At least one symbol.
    Required,
}

/// Which rule a refused password breaks. The message names it and is safe
/// to send to the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    /// Fewer characters than the policy's minimum.
    #[error("`password` must be at least {0} characters")]
    TooShort(usize),
    /// More characters than the policy's maximum.
    #[error("`password` must be at most {0} characters")]
    TooLong(usize),
    /// The symbol rule is on and there is no symbol.
    #[error("`password` must contain a symbol (a character that is not a letter, digit or space)")]
    NoSymbol,
    /// On the list of common passwords, possibly with digits or symbols
    /// appended.
    #[error("`password` is on the list of common passwords")]
    Common,
    /// Contains the username.
    #[error("`password` must not contain the username")]
    ContainsUsername,
}

impl From<PasswordRejected> for Problem {
    fn from(rejected: PasswordRejected) -> Self {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(rejected.to_string())
    }
}

/// The rules a new password must meet: 12 to 128 characters, not a common
/// password, not containing the username, and optionally a symbol.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::auth::password::{PasswordPolicy, PasswordRejected, SymbolRule};
///
/// let policy = PasswordPolicy::default();
/// assert_eq!(policy.check("short", None), Err(PasswordRejected::TooShort(12)));
/// assert_eq!(policy.check("password1234", None), Err(PasswordRejected::Common));
/// assert!(policy.check("correct horse battery staple", Some("alice")).is_ok());
///
/// let strict = PasswordPolicy::default().symbols(SymbolRule::Required);
/// assert_eq!(strict.check("correct horse battery staple", None), Err(PasswordRejected::NoSymbol));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
    max_chars: usize,
    symbols: SymbolRule,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: MIN_PASSWORD_CHARS,
            max_chars: MAX_PASSWORD_CHARS,
            symbols: SymbolRule::NotRequired,
        }
    }
}

impl PasswordPolicy {
    /// Sets the symbol rule.
    #[must_use]
    pub fn symbols(mut self, rule: SymbolRule) -> Self {
        self.symbols = rule;
        self
    }

    /// Raises the minimum length; values below 12 keep 12.
    #[must_use]
    pub fn min_chars(mut self, min: usize) -> Self {
        self.min_chars = min.clamp(MIN_PASSWORD_CHARS, self.max_chars);
        self
    }

    /// The longest password accepted, in characters.
    pub fn max_len(&self) -> usize {
        self.max_chars
    }

    /// Checks a new password; the error names the first rule it breaks.
    pub fn check(&self, password: &str, username: Option<&str>) -> Result<(), PasswordRejected> {
        let chars = password.chars().count();
        if chars < self.min_chars {
            return Err(PasswordRejected::TooShort(self.min_chars));
        }
        if chars > self.max_chars {
            return Err(PasswordRejected::TooLong(self.max_chars));
        }
        if self.symbols == SymbolRule::Required
            && !password
                .chars()
                .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
        {
            return Err(PasswordRejected::NoSymbol);
        }
        if is_common(password) {
            return Err(PasswordRejected::Common);
        }
        if let Some(username) = username.filter(|name| name.chars().count() >= 3)
            && password.to_lowercase().contains(&username.to_lowercase())
        {
            return Err(PasswordRejected::ContainsUsername);
        }
        Ok(())
    }
}

/// A common password, or one with digits and symbols appended to a common
/// one (`password1234!`), or one character repeated.
fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let list = common_passwords();
    if list.contains(lower.as_str()) {
        return true;
    }
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    if stem.len() >= 4 && list.contains(stem) {
        return true;
    }
    let mut chars = lower.chars();
    chars
        .next()
        .is_some_and(|first| chars.all(|other| other == first))
}

/// The smallest argon2id memory cost accepted, in KiB (OWASP).
pub const MIN_MEMORY_KIB: u32 = 19_456;
/// The smallest argon2id time cost accepted (OWASP).
pub const MIN_ITERATIONS: u32 = 2;
/// The smallest argon2id parallelism accepted (OWASP).
pub const MIN_PARALLELISM: u32 = 1;

/// argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP's recommendation, and the floor: m = 19456 KiB, t = 2, p = 1.
    pub const OWASP: Self = Self {
        memory_kib: MIN_MEMORY_KIB,
        iterations: MIN_ITERATIONS,
        parallelism: MIN_PARALLELISM,
    };

    /// Checks the parameters against OWASP's floor; the error names each
    /// one below it.
    pub fn validate(self) -> Result<(), String> {
        self.to_params().map(|_| ())
    }

    fn to_params(self) -> Result<Params, String> {
        let mut below = Vec::new();
        if self.memory_kib < MIN_MEMORY_KIB {
            below.push(format!(
                "memory {} KiB is below {MIN_MEMORY_KIB} KiB",
                self.memory_kib
            ));
        }
        if self.iterations < MIN_ITERATIONS {
            below.push(format!(
                "iterations {} is below {MIN_ITERATIONS}",
                self.iterations
            ));
        }
        if self.parallelism < MIN_PARALLELISM {
            below.push(format!(
                "parallelism {} is below {MIN_PARALLELISM}",
                self.parallelism
            ));
        }
        if !below.is_empty() {
            return Err(format!(
                "argon2id parameters are below OWASP's floor: {}",
                below.join(", ")
            ));
        }
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| format!("argon2id parameters are invalid: {e}"))
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Why hashing or verifying did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot is taken and the queue is full: answer 503.
    #[error("password hashing is at capacity")]
    Busy,
    /// The hashing library or the blocking pool failed.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

impl From<HashError> for Problem {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .with_detail("too many sign-ins at once; retry shortly")
                .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
            HashError::Failed(cause) => {
                tracing::error!(target: "secure_api", error = %cause, "password hashing failed");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The password matches.
    pub matches: bool,
    /// The hash was made with other parameters: store a new one.
    pub needs_rehash: bool,
}

/// argon2id hashing and verification on dedicated hashing threads, at most
/// `concurrency` at a time with at most `queue` waiting. Beyond that,
/// [`HashError::Busy`] (a 503 with `Retry-After`) instead of an unbounded
/// queue, and the async workers never run argon2 themselves. Cheap to clone;
/// clones share the threads and the bound.
///
/// Admission comes first ([`Passwords::admit`]), so a flood is refused
/// before it costs a database lookup.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::auth::password::{Argon2Params, Passwords};
/// use secrecy::SecretString;
///
/// # actix_web::rt::System::new().block_on(async {
/// let passwords = Passwords::new(Argon2Params::OWASP).expect("OWASP parameters");
/// let hash = passwords.hash(SecretString::from("correct horse battery staple")).await.unwrap();
/// assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
/// let verified = passwords.verify(SecretString::from("correct horse battery staple"), Some(&hash)).await.unwrap();
/// assert!(verified.matches && !verified.needs_rehash);
/// # });
/// ```
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

type Job = Box<dyn FnOnce(&Params) + Send>;

struct Inner {
    params: Params,
    jobs: Mutex<mpsc::SyncSender<Job>>,
    admitted: AtomicUsize,
    capacity: usize,
    dummy: OnceLock<String>,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passwords")
            .field("memory_kib", &self.inner.params.m_cost())
            .field("iterations", &self.inner.params.t_cost())
            .field("parallelism", &self.inner.params.p_cost())
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// Hashing with `params`, refused below OWASP's floor. Half the
    /// available cores (at least one) hash, so the workers keep a core; four
    /// times that many may wait.
    pub fn new(params: Argon2Params) -> Result<Self, String> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let concurrency = (cores / 2).max(1);
        Self::with_bound(params, concurrency, concurrency * 4)
    }

    /// Hashing with `params` on `concurrency` threads, `queue` waiting.
    ///
    /// The hashing threads run below normal priority (`SCHED_BATCH`, nice
    /// 10 on Linux), so under load the request workers come first.
    pub fn with_bound(
        params: Argon2Params,
        concurrency: usize,
        queue: usize,
    ) -> Result<Self, String> {
        let params = params.to_params()?;
        let concurrency = concurrency.max(1);
        let capacity = concurrency + queue;
        let (jobs, receiver) = mpsc::sync_channel::<Job>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..concurrency {
            let receiver = Arc::clone(&receiver);
            let params = params.clone();
            std::thread::Builder::new()
                .name(format!("secure-api-argon2-{n}"))
                .spawn(move || hashing_thread(&receiver, &params))
                .map_err(|e| format!("cannot start a password hashing thread: {e}"))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                jobs: Mutex::new(jobs),
                admitted: AtomicUsize::new(0),
                capacity,
                dummy: OnceLock::new(),
            }),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Takes a place among the hashes running or waiting, or answers
    /// [`HashError::Busy`] at once.
    pub fn admit(&self) -> Result<Admission, HashError> {
        let inner = &self.inner;
        let admitted = inner.admitted.fetch_add(1, Ordering::AcqRel);
        if admitted >= inner.capacity {
            inner.admitted.fetch_sub(1, Ordering::AcqRel);
            metrics::password_hash_rejected();
            return Err(HashError::Busy);
        }
        metrics::password_hashes_admitted(admitted + 1);
        Ok(Admission {
            passwords: self.clone(),
        })
    }

    /// Hashes `password` into a PHC string with a random salt.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        self.admit()?.hash(password).await
    }

    /// Checks `password` against `phc`; see [`Admission::verify`].
    pub async fn verify(
        &self,
        password: SecretString,
        phc: Option<&str>,
    ) -> Result<Verified, HashError> {
        self.admit()?.verify(password, phc).await
    }

    async fn dummy_hash(&self) -> Result<String, HashError> {
        if let Some(dummy) = self.inner.dummy.get() {
            return Ok(dummy.clone());
        }
        let hash = self
            .execute(|params| {
                let random = crate::util::random_id().map_err(|e| e.to_string())?;
                hash_now(&SecretString::from(random), params.clone())
            })
            .await?;
        Ok(self.inner.dummy.get_or_init(|| hash).clone())
    }

    /// Runs `work` on a hashing thread. The caller holds an admission, so
    /// the channel has room.
    async fn execute<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Params) -> Result<T, String> + Send + 'static,
    ) -> Result<T, HashError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |params| {
            let _ = answer.send(work(params));
        });
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_send(job)
            .map_err(|_| {
                metrics::password_hash_rejected();
                HashError::Busy
            })?;
        answered
            .await
            .map_err(|_| HashError::Failed("the hashing thread stopped".to_owned()))?
            .map_err(HashError::Failed)
    }
}

fn hashing_thread(jobs: &Mutex<mpsc::Receiver<Job>>, params: &Params) {
    lower_priority();
    loop {
        let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
        match job {
            Ok(job) => job(params),
            // Every `Passwords` clone is gone.
            Err(_) => return,
        }
    }
}

/// Below-normal priority for the calling thread, where the OS allows it.
fn lower_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    // 25 of 0..=99 is nice 10.
    let Ok(priority) = 25u8.try_into().map(ThreadPriority::Crossplatform) else {
        return;
    };
    let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), priority, batch) {
        tracing::debug!(target: "secure_api", error = ?e, "hashing thread keeps normal priority");
    }
}

/// A place among the hashes running or waiting; released when dropped.
#[derive(Debug)]
pub struct Admission {
    passwords: Passwords,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let before = self.passwords.inner.admitted.fetch_sub(1, Ordering::AcqRel);
        metrics::password_hashes_admitted(before.saturating_sub(1));
    }
}

impl Admission {
    /// Hashes `password` into a PHC string with a random salt.
    pub async fn hash(self, password: SecretString) -> Result<String, HashError> {
        self.passwords
            .execute(move |params| hash_now(&password, params.clone()))
            .await
    }

    /// Checks `password` against `phc`. With no stored hash (an unknown
    /// user) the password is checked against a dummy hash, so both cases
    /// take the same time, and `matches` is false.
    pub async fn verify(
        self,
        password: SecretString,
        phc: Option<&str>,
    ) -> Result<Verified, HashError> {
        let (phc, known) = match phc {
            Some(phc) => (phc.to_owned(), true),
            None => (self.passwords.dummy_hash().await?, false),
        };
        self.passwords
            .execute(move |params| {
                let parsed = PasswordHash::new(&phc).map_err(|e| format!("stored hash: {e}"))?;
                let matches = Passwords::argon2(params.clone())
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                    .is_ok();
                let needs_rehash = matches && stale(&parsed, params);
                Ok(Verified {
                    matches: matches && known,
                    needs_rehash,
                })
            })
            .await
    }
}

fn hash_now(password: &SecretString, params: Params) -> Result<String, String> {
    let salt = crate::util::random_bytes::<16>().map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Passwords::argon2(params)
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

/// Whether a stored hash was made with another algorithm or parameters.
fn stale(stored: &PasswordHash<'_>, current: &Params) -> bool {
    if stored.algorithm != argon2::ARGON2ID_IDENT {
        return true;
    }
    match Params::try_from(stored) {
        Ok(params) => {
            params.m_cost() != current.m_cost()
                || params.t_cost() != current.t_cost()
                || params.p_cost() != current.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_below_the_owasp_floor_are_refused() {
        let weak = Argon2Params {
            memory_kib: 4096,
            iterations: 1,
            parallelism: 1,
        };
        let error = Passwords::new(weak).expect_err("refused");
        assert!(
            error.contains("memory 4096 KiB is below 19456 KiB"),
            "{error}"
        );
        assert!(error.contains("iterations 1 is below 2"), "{error}");
        assert!(Passwords::new(Argon2Params::OWASP).is_ok());
    }

    #[test]
    fn the_policy_names_each_rule() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            policy.check(&"a".repeat(11), None),
            Err(PasswordRejected::TooShort(12))
        );
        assert_eq!(
            policy.check(&"ab".repeat(65), None),
            Err(PasswordRejected::TooLong(128))
        );
        assert_eq!(
            policy.check("qwertyuiop12", None),
            Err(PasswordRejected::Common)
        );
        assert_eq!(
            policy.check("Sunshine2024!!", None),
            Err(PasswordRejected::Common)
        );
        assert_eq!(
            policy.check("zzzzzzzzzzzzzz", None),
            Err(PasswordRejected::Common)
        );
        assert_eq!(
            policy.check("alice-in-the-garden", Some("Alice")),
            Err(PasswordRejected::ContainsUsername)
        );
        assert!(policy.check("plum tree at dusk", Some("alice")).is_ok());
        let strict = policy.symbols(SymbolRule::Required);
        assert_eq!(
            strict.check("plum tree at dusk", None),
            Err(PasswordRejected::NoSymbol)
        );
        assert!(strict.check("plum tree at dusk!", None).is_ok());
        // Length counts characters, not bytes.
        assert!(policy.check("ééééééééééé", None).is_err());
    }

    #[tokio::test]
    async fn verification_flags_old_parameters_and_unknown_users_never_match() {
        let passwords = Passwords::with_bound(Argon2Params::OWASP, 1, 4).expect("test setup");
        let stronger = Passwords::with_bound(
            Argon2Params {
                memory_kib: 19_456,
                iterations: 3,
                parallelism: 1,
            },
            1,
            4,
        )
        .expect("test setup");
        let old = passwords
            .hash(SecretString::from("plum tree at dusk"))
            .await
            .expect("test setup");
        let verified = stronger
            .verify(SecretString::from("plum tree at dusk"), Some(&old))
            .await
            .expect("test setup");
        assert!(verified.matches && verified.needs_rehash);
        let wrong = stronger
            .verify(SecretString::from("plum tree at dawn"), Some(&old))
            .await
            .expect("test setup");
        assert!(!wrong.matches && !wrong.needs_rehash);
        let unknown = passwords
            .verify(SecretString::from("plum tree at dusk"), None)
            .await
            .expect("test setup");
        assert!(!unknown.matches);
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_instead_of_waiting() {
        let passwords = Passwords::with_bound(Argon2Params::OWASP, 1, 0).expect("test setup");
        let first = passwords.hash(SecretString::from("plum tree at dusk"));
        let second = passwords.hash(SecretString::from("plum tree at dusk"));
        let (first, second) = futures_join(first, second).await;
        assert!(first.is_ok());
        assert!(matches!(second, Err(HashError::Busy)));
        let problem = Problem::from(HashError::Busy);
        assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    /// Polls both futures on one task, so the first takes the only slot
    /// before the second is admitted.
    async fn futures_join<A: std::future::Future, B: std::future::Future>(
        a: A,
        b: B,
    ) -> (A::Output, B::Output) {
        let a = std::pin::pin!(a);
        let b = std::pin::pin!(b);
        let (mut a, mut b) = (a, b);
        let mut out_a = None;
        let mut out_b = None;
        std::future::poll_fn(|cx| {
            if out_a.is_none()
                && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
            {
                out_a = Some(v);
            }
            if out_b.is_none()
                && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
            {
                out_b = Some(v);
            }
            if out_a.is_some() && out_b.is_some() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        match (out_a, out_b) {
            (Some(a), Some(b)) => (a, b),
            _ => unreachable!("both futures completed"),
        }
    }
}
