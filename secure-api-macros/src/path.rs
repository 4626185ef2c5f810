//! Reads the parameters of an actix path pattern such as
//! `/api/users/{user_id}` or `/files/{name:[a-z]+}`.

/// The parameter names of `pattern`, or why the pattern is not valid.
pub(crate) fn parameters(pattern: &str) -> Result<Vec<String>, String> {
    if !pattern.starts_with('/') {
        return Err("a route path starts with `/`".to_owned());
    }
    let mut names: Vec<String> = Vec::new();
    let mut chars = pattern.char_indices();
    while let Some((_, c)) = chars.next() {
        match c {
            '{' => {
                let mut depth = 1;
                let mut inner = String::new();
                for (_, c) in chars.by_ref() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    inner.push(c);
                }
                if depth != 0 {
                    return Err("a `{` in the path is never closed".to_owned());
                }
                let name = inner.split(':').next().unwrap_or_default().trim();
                let name = name.strip_suffix('*').unwrap_or(name);
                if !is_identifier(name) {
                    return Err(format!(
                        "`{{{inner}}}` does not start with a parameter name such as `{{user_id}}`"
                    ));
                }
                if names.iter().any(|n| n == name) {
                    return Err(format!("the parameter `{name}` appears twice"));
                }
                names.push(name.to_owned());
            }
            '}' => return Err("a `}` in the path has no matching `{`".to_owned()),
            _ => {}
        }
    }
    Ok(names)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether a parameter names an object: `id` (any case), `*_id`
/// (snake_case), `*Id` (camelCase, PascalCase) or `*ID`.
pub(crate) fn is_id_like(name: &str) -> bool {
    if name.eq_ignore_ascii_case("id") || name.ends_with("_id") {
        return true;
    }
    let Some(stem) = name.strip_suffix("Id").or_else(|| name.strip_suffix("ID")) else {
        return false;
    };
    // `invoiceId`, `InvoiceId`, `userID`: a word before the suffix.
    stem.chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Whether an id parameter names a user (the caller's own id may be
/// compared with the token's subject): `user_id`, `userId`, `userID`.
pub(crate) fn is_user_id(name: &str) -> bool {
    matches!(name, "user_id" | "userId" | "userID" | "UserId" | "UserID")
}

/// The type a resource id presumably loads, for helps: `loan_id` and
/// `loanId` give `Loan`; a bare `id` gives `YourType`.
pub(crate) fn resource_guess(name: &str) -> String {
    let stem = name
        .strip_suffix("_id")
        .or_else(|| name.strip_suffix("Id"))
        .or_else(|| name.strip_suffix("ID"))
        .filter(|stem| !stem.is_empty());
    let Some(stem) = stem else {
        return "YourType".to_owned();
    };
    stem.split('_')
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_with_and_without_patterns() {
        assert_eq!(
            parameters("/api/users/{user_id}"),
            Ok(vec!["user_id".to_owned()])
        );
        assert_eq!(
            parameters("/a/{x:\\d{1,3}}/{tail}*"),
            Ok(vec!["x".to_owned(), "tail".to_owned()])
        );
        assert_eq!(parameters("/"), Ok(vec![]));
    }

    #[test]
    fn refuses_malformed_patterns() {
        assert!(parameters("api/users").is_err());
        assert!(parameters("/a/{id").is_err());
        assert!(parameters("/a/id}").is_err());
        assert!(parameters("/a/{1x}").is_err());
        assert!(parameters("/a/{id}/{id}").is_err());
    }

    #[test]
    fn id_like_names() {
        assert!(is_id_like("id") && is_id_like("order_id"));
        assert!(is_id_like("invoiceId") && is_id_like("InvoiceId") && is_id_like("userID"));
        assert!(is_id_like("ID"));
        assert!(!is_id_like("slug") && !is_id_like("idea") && !is_id_like("valid"));
        assert!(!is_id_like("Id_") && !is_id_like("_Id"));
        assert_eq!(resource_guess("loan_id"), "Loan");
        assert_eq!(resource_guess("invoiceId"), "Invoice");
        assert_eq!(resource_guess("line_item_id"), "LineItem");
        assert_eq!(resource_guess("id"), "YourType");
        assert!(is_user_id("user_id") && is_user_id("userId") && !is_user_id("loan_id"));
    }
}
