//! The API explorer page (OWASP API9): Swagger UI for the application's
//! OpenAPI document, with every asset served by the application itself
//! (Swagger UI is vendored from the npm registry by
//! `scripts/vendor-swagger-ui.sh`), so the page works offline and under a
//! CSP that allows nothing from elsewhere.
//!
//! Two routes serve it: the page and its assets. Dev mode serves them;
//! production only when enabled ([`SecurityConfig::serves_docs`](crate::SecurityConfig::serves_docs),
//! `SECURE_API_DOCS=on`).
//!
//! # Examples
//!
//! ```
//! use secure_api_runtime::prelude::*;
//! use secure_api_runtime::docs;
//!
//! /// The API explorer.
//! #[get("/docs")]
//! #[registered(owner = "platform", lifecycle = production)]
//! #[public]
//! async fn explorer() -> HttpResponse {
//!     docs::page("/docs", "/openapi.json")
//! }
//!
//! /// The explorer's scripts and styles.
//! #[get("/docs/{asset}")]
//! #[registered(owner = "platform", lifecycle = production)]
//! #[public]
//! async fn explorer_asset(asset: web::Path<docs::AssetName>) -> Result<HttpResponse, Problem> {
//!     docs::asset(&asset).ok_or_else(Problem::not_found)
//! }
//!
//! let security = SecurityConfig::builder(Mode::Dev).generated_key().build().expect("config");
//! let mut app = SecureApp::new(security);
//! if app.security().serves_docs() {
//!     app = app.service(explorer).service(explorer_asset);
//! }
//! assert_eq!(app.routes().len(), 2);
//! ```

use std::ops::Deref;

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// The vendored Swagger UI's version.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// The page's Content-Security-Policy: scripts, styles and requests to the
/// application only, images from it or inline (`data:` icons), no frames,
/// no forms, no `<base>`. Only the page carries it; every other answer
/// keeps the application's own.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// The assets, by name: (media type, bytes).
const ASSETS: [(&str, &str, &[u8]); 3] = [
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/swagger-ui/swagger-ui.css"),
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/init.js"),
    ),
];

/// The explorer page for the document at `spec_url`, loading its assets
/// from `base` (the path [`asset`] is served under, without a trailing
/// `/`), with [`PAGE_CSP`].
pub fn page(base: &str, spec_url: &str) -> HttpResponse {
    let base = escape(base.trim_end_matches('/'));
    let spec = escape(spec_url);
    let html = format!(
        "<!doctype html>\n\
         <html lang=\"en\">\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>API explorer</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <link rel=\"stylesheet\" href=\"{base}/swagger-ui.css\">\n\
         </head>\n\
         <body>\n\
         <div id=\"swagger-ui\" data-spec=\"{spec}\"></div>\n\
         <script src=\"{base}/swagger-ui-bundle.js\"></script>\n\
         <script src=\"{base}/init.js\"></script>\n\
         </body>\n\
         </html>\n"
    );
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(html)
}

/// The asset named `name` (`swagger-ui-bundle.js`, `swagger-ui.css`,
/// `init.js`), or `None` for any other name.
pub fn asset(name: &str) -> Option<HttpResponse> {
    let (_, media_type, bytes) = ASSETS.iter().find(|(asset, ..)| *asset == name)?;
    Some(
        HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, *media_type))
            .insert_header((CACHE_CONTROL, "public, max-age=3600"))
            .body(*bytes),
    )
}

/// The `{asset}` segment of the assets' route: any text, which [`asset`]
/// looks up. The document lists the names it serves, so a client (or a
/// fuzzer) reading it asks for one; any other name is answered 404.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct AssetName(String);

impl Deref for AssetName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl utoipa::PartialSchema for AssetName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ASSETS.iter().map(|(name, ..)| *name)))
            .into()
    }
}

impl utoipa::ToSchema for AssetName {}

/// `text` safe inside a double-quoted HTML attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody as _;

    fn text(response: HttpResponse) -> String {
        let bytes = response.into_body().try_into_bytes().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn the_page_loads_its_assets_from_the_base_and_escapes_what_it_is_given() {
        let page = page("/docs/", "/openapi.json?\"><script>");
        let csp = page.headers().get(CONTENT_SECURITY_POLICY).cloned();
        let html = text(page);
        assert!(html.contains("href=\"/docs/swagger-ui.css\""));
        assert!(html.contains("src=\"/docs/init.js\""));
        assert!(html.contains("data-spec=\"/openapi.json?&quot;&gt;&lt;script&gt;\""));
        assert_eq!(csp.as_ref().and_then(|v| v.to_str().ok()), Some(PAGE_CSP));
    }

    #[test]
    fn only_the_vendored_assets_are_served() {
        let css = asset("swagger-ui.css").map(|r| r.headers().get(CONTENT_TYPE).cloned());
        assert_eq!(
            css.flatten().as_ref().and_then(|v| v.to_str().ok()),
            Some("text/css; charset=utf-8")
        );
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("").is_none());
    }

    #[test]
    fn the_embedded_assets_are_the_vendored_ones() {
        use sha2::Digest as _;
        let sums = include_str!("../assets/swagger-ui/SHA256SUMS");
        for line in sums.lines() {
            let (sum, name) = line.split_once("  ").unwrap_or_default();
            let (_, _, bytes) = ASSETS
                .iter()
                .find(|(asset, ..)| *asset == name)
                .copied()
                .unwrap_or_default();
            assert_eq!(
                crate::util::hex(&sha2::Sha256::digest(bytes)),
                sum,
                "{name}"
            );
        }
        assert_eq!(sums.lines().count(), 2);
    }

    #[test]
    fn the_version_is_the_vendored_one() {
        let vendored = include_str!("../assets/swagger-ui/VERSION");
        assert_eq!(vendored.trim(), SWAGGER_UI_VERSION);
    }
}
