//! Role hierarchy (OWASP API5): a role may include others, so `admin`
//! passes a route that requires `user`.

pub(crate) mod step;

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Which roles include which, configured on `SecureApp`.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::roles::RoleHierarchy;
///
/// let roles = RoleHierarchy::new().role("admin", ["support"]).role("support", ["user"]);
/// let token_roles = ["admin".to_owned()];
/// let held = roles.expand(&token_roles);
/// assert!(held.iter().any(|r| r == "user"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct RoleHierarchy {
    includes: BTreeMap<String, Vec<String>>,
}

impl RoleHierarchy {
    /// No role includes another.
    pub fn new() -> Self {
        Self::default()
    }

    /// `role` also grants every role in `includes` (and what they include).
    #[must_use]
    pub fn role<I, S>(mut self, role: &str, includes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.includes
            .entry(role.to_owned())
            .or_default()
            .extend(includes.into_iter().map(Into::into));
        self
    }

    /// The roles `held` grants, with everything they include.
    pub fn expand<'a>(&self, held: &'a [String]) -> Cow<'a, [String]> {
        if self.includes.is_empty() || !held.iter().any(|r| self.includes.contains_key(r)) {
            return Cow::Borrowed(held);
        }
        let mut all: Vec<String> = held.to_vec();
        let mut next = 0;
        while next < all.len() {
            if let Some(included) = self.includes.get(&all[next]) {
                for role in included {
                    if !all.contains(role) {
                        all.push(role.clone());
                    }
                }
            }
            next += 1;
        }
        Cow::Owned(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_is_transitive_and_survives_cycles() {
        let roles = RoleHierarchy::new().role("a", ["b"]).role("b", ["c", "a"]);
        let a = ["a".to_owned()];
        assert_eq!(roles.expand(&a).as_ref(), ["a", "b", "c"]);
        assert_eq!(roles.expand(&["z".to_owned()]).as_ref(), ["z"]);
    }
}
