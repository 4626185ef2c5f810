//! The secured routes' patterns, matched before routing to decide whether
//! a request may reach a handler, and which methods a path serves.

use actix_web::dev::{ResourceDef, ResourceMap};

use crate::policy::{Method, RoutePolicy};

/// The secured routes' patterns, to decide before routing whether a request
/// may reach a handler.
pub(crate) struct RouteTable {
    pub(crate) routes: Vec<(Pattern, &'static RoutePolicy)>,
}

/// A route pattern, matched the way actix's router matches it. Patterns of
/// static segments and plain `{name}` parameters are compared segment by
/// segment; any other pattern is left to actix's `ResourceDef`.
pub(crate) enum Pattern {
    Segments(Vec<Segment>),
    Def(Box<ResourceDef>),
}

pub(crate) enum Segment {
    Static(&'static str),
    Param,
}

impl Pattern {
    pub(crate) fn new(pattern: &'static str) -> Self {
        let segments: Option<Vec<Segment>> = pattern
            .split('/')
            .map(|segment| {
                let inner = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
                match inner {
                    Some(name)
                        if !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                    {
                        Some(Segment::Param)
                    }
                    _ if segment.contains(['{', '}', '*']) => None,
                    _ => Some(Segment::Static(segment)),
                }
            })
            .collect();
        match segments {
            Some(segments) => Self::Segments(segments),
            None => Self::Def(Box::new(ResourceDef::new(pattern))),
        }
    }

    fn is_match(&self, path: &str) -> bool {
        match self {
            Self::Def(def) => def.is_match(path),
            Self::Segments(segments) => {
                // The path's `/`-separated parts, one for each segment, read
                // byte by byte (a path is short: no searcher to set up).
                let mut rest = path.as_bytes();
                for (i, segment) in segments.iter().enumerate() {
                    if i > 0 {
                        match rest.split_first() {
                            Some((b'/', after)) => rest = after,
                            _ => return false,
                        }
                    }
                    let end = rest.iter().position(|b| *b == b'/').unwrap_or(rest.len());
                    let (part, after) = rest.split_at(end);
                    let fits = match segment {
                        Segment::Static(expected) => expected.as_bytes() == part,
                        Segment::Param => !part.is_empty(),
                    };
                    if !fits {
                        return false;
                    }
                    rest = after;
                }
                rest.is_empty()
            }
        }
    }
}

pub(crate) enum Dispatch {
    Secured,
    MethodNotAllowed(String),
    SideDoor,
    NotFound,
}

impl RouteTable {
    /// The methods the secured routes serve at `path`, comma separated.
    pub(crate) fn methods(&self, path: &str) -> String {
        let mut methods: Vec<&str> = Vec::new();
        for (def, policy) in &self.routes {
            if def.is_match(path) {
                push_served(&mut methods, policy.method);
            }
        }
        methods.join(", ")
    }

    pub(crate) fn classify(
        &self,
        method: &actix_web::http::Method,
        path: &str,
        resources: &ResourceMap,
    ) -> Dispatch {
        let mut allowed: Vec<&str> = Vec::new();
        for (def, policy) in &self.routes {
            if def.is_match(path) {
                if policy.method.serves(method) {
                    return Dispatch::Secured;
                }
                push_served(&mut allowed, policy.method);
            }
        }
        if !allowed.is_empty() {
            Dispatch::MethodNotAllowed(allowed.join(", "))
        } else if resources.has_resource(path) {
            Dispatch::SideDoor
        } else {
            Dispatch::NotFound
        }
    }
}

/// Adds the methods a route declared with `method` answers, once each.
fn push_served(methods: &mut Vec<&'static str>, method: Method) {
    for served in method.served() {
        if !methods.contains(served) {
            methods.push(served);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PATTERNS: [&str; 7] = [
        "/",
        "/health",
        "/api/users/{user_id}",
        "/api/users/{user_id}/notes",
        "/api/orders/{order_id}/items/{item_id}",
        "/files/{name:[a-z]+}",
        "/static/{tail}*",
    ];

    #[test]
    fn simple_patterns_use_segments_and_others_actix() {
        assert!(matches!(
            Pattern::new("/api/users/{user_id}"),
            Pattern::Segments(_)
        ));
        assert!(matches!(
            Pattern::new("/files/{name:[a-z]+}"),
            Pattern::Def(_)
        ));
        assert!(matches!(Pattern::new("/static/{tail}*"), Pattern::Def(_)));
    }

    #[test]
    fn known_paths() {
        let users = Pattern::new("/api/users/{user_id}");
        assert!(users.is_match("/api/users/7"));
        assert!(!users.is_match("/api/users/"));
        assert!(!users.is_match("/api/users/7/"));
        assert!(!users.is_match("/api/users/7/notes"));
        assert!(!users.is_match("/api/users"));
        assert!(!users.is_match("api/users/7"));
        assert!(!users.is_match("//api/users/7"));
        let root = Pattern::new("/");
        assert!(root.is_match("/"));
        assert!(!root.is_match(""));
        assert!(!root.is_match("/x"));
    }

    /// Built with actix-web's `unicode` feature, a parameter's own pattern
    /// is a `regex` one (not `regex-lite`'s): `\d` takes any digit, as in
    /// an actix app built with its default features.
    #[test]
    fn a_parameters_own_pattern_is_a_regex_one() {
        let numbered = Pattern::new(r"/n/{x:\d+}");
        assert!(numbered.is_match("/n/42"));
        assert!(numbered.is_match("/n/\u{663}"), "an Arabic-Indic three");
        assert!(!numbered.is_match("/n/x"));
    }

    proptest! {
        #[test]
        fn matches_exactly_what_actix_matches(
            segments in proptest::collection::vec(
                prop_oneof![
                    Just(String::new()), Just("api".to_owned()), Just("users".to_owned()), Just("notes".to_owned()),
                    Just("orders".to_owned()), Just("items".to_owned()), Just("health".to_owned()),
                    Just("files".to_owned()), Just("static".to_owned()), "[a-zA-Z0-9%._~-]{1,6}",
                ],
                0..6,
            )
        ) {
            let path = format!("/{}", segments.join("/"));
            for pattern in PATTERNS {
                let ours = Pattern::new(pattern).is_match(&path);
                let actix = ResourceDef::new(pattern).is_match(&path);
                prop_assert_eq!(ours, actix, "{} against {}", pattern, path);
            }
        }
    }
}
