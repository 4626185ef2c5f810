//! No macro panics, whatever tokens it is given: every attribute, over
//! arguments and handlers made of random token trees, and both derives
//! over random items. A refusal is a `compile_error!`, never a panic.

use std::str::FromStr as _;

use proc_macro2::TokenStream;
use proptest::prelude::*;

use crate::ast::Kind;

/// Words and punctuation the attributes read, and some they do not.
const WORDS: &[&str] = &[
    "admin",
    "user",
    "any",
    "all",
    "one_of",
    "none",
    "reason",
    "resource",
    "Order",
    "or_roles",
    "key",
    "ip",
    "ip_and_user",
    "body",
    "concurrency",
    "owner",
    "lifecycle",
    "production",
    "deprecated",
    "retired",
    "since",
    "sunset",
    "successor",
    "secret",
    "optional",
    "fresh",
    "user_id",
    "order_id",
    "id",
    "Draft",
    "Validated",
    "Executed",
    "async",
    "fn",
    "pub",
    "struct",
    "enum",
    "web",
    "Path",
    "Json",
    "Principal",
    "Option",
    "String",
    "i64",
    "self",
    "r#type",
    "_",
    "'a",
    "\"30/minute\"",
    "\"1KiB\"",
    "\"64 kilobytes\"",
    "\"/api/orders/{order_id}\"",
    "\"/api/{\"",
    "\"\"",
    "\"admin\"",
    "\"billing-admin\"",
    "\"2027-02-30\"",
    "\"2027-06-30\"",
    "\"reports:read\"",
    "0",
    "1",
    "4294967296",
    "1.5",
    "b'x'",
    "true",
    ",",
    ":",
    "::",
    "=",
    "=>",
    "->",
    "#",
    "!",
    "&",
    "*",
    "-",
    ".",
    ";",
    "<",
    ">",
    "@",
    "$",
];

/// A token stream of up to a few levels of `( )`, `[ ]` and `{ }` groups.
fn tokens() -> impl Strategy<Value = String> {
    let word = proptest::sample::select(WORDS).prop_map(str::to_owned);
    let leaf = prop::collection::vec(word, 0..6).prop_map(|words| words.join(" "));
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop::collection::vec(
            prop_oneof![
                inner.clone(),
                inner.clone().prop_map(|s| format!("({s})")),
                inner.clone().prop_map(|s| format!("[{s}]")),
                inner.prop_map(|s| format!("{{{s}}}")),
            ],
            0..4,
        )
        .prop_map(|parts| parts.join(" "))
    })
}

fn stream(text: &str) -> TokenStream {
    TokenStream::from_str(text).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random arguments on a handler that is otherwise fine.
    #[test]
    fn no_attribute_panics_on_any_arguments(args in tokens(), attrs in tokens()) {
        let item = stream(&format!(
            "#[registered({attrs})] #[owner({attrs})] async fn get_order(order_id: web::Path<i64>, me: Principal) -> String {{ me.sub }}"
        ));
        for kind in Kind::ALL {
            let _ = crate::expand::route(kind, stream(&args), item.clone());
        }
    }

    /// A valid route, on a handler made of random tokens.
    #[test]
    fn no_attribute_panics_on_any_handler(signature in tokens(), output in tokens(), body in tokens()) {
        let item = stream(&format!(
            "#[get(\"/api/orders/{{order_id}}\")] #[registered(owner = \"tests\", lifecycle = production)] async fn h({signature}) -> {output} {{ {body} }}"
        ));
        for kind in [Kind::Authenticated, Kind::Public, Kind::Roles, Kind::Expose] {
            let _ = crate::expand::route(kind, stream("admin"), item.clone());
        }
        let _ = crate::expand::route(Kind::Public, TokenStream::new(), stream(&signature));
    }

    #[test]
    fn no_derive_panics_on_any_item(attrs in tokens(), fields in tokens(), name in tokens()) {
        for text in [
            format!("#[serde({attrs})] #[garde({attrs})] struct Patch {{ {fields} }}"),
            format!("#[transitions({attrs})] enum {name} {{ {fields} }}"),
            format!("{attrs} {name} {fields}"),
        ] {
            let _ = crate::input::derive(stream(&text));
            let _ = crate::state::derive(stream(&text));
        }
    }
}
