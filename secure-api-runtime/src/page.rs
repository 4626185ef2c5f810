//! Pagination (OWASP API4): `PageRequest` reads `limit` and `offset` from
//! the query string and clamps `limit` to a maximum, so no client can ask
//! for the whole table.

use std::future::{Ready, ready};

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::Deserialize;

use crate::problem::Problem;

/// The page sizes a `SecureApp` allows: set with `.app_data(PageConfig { .. })`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageConfig {
    /// The page size when the client names none.
    pub default_limit: u32,
    /// The largest page size; larger requests are clamped to it.
    pub max_limit: u32,
}

impl Default for PageConfig {
    fn default() -> Self {
        Self {
            default_limit: 20,
            max_limit: 100,
        }
    }
}

/// `?limit=&offset=`, with `limit` clamped to `1..=max_limit`.
///
/// # Examples
///
/// ```
/// use secure_api_runtime::prelude::*;
///
/// #[get("/api/things")]
/// #[registered(owner = "platform", lifecycle = production)]
/// #[authenticated]
/// async fn things(page: PageRequest) -> String {
///     format!("{} things from {}", page.limit, page.offset)
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items, within the configured bounds.
    pub limit: u32,
    /// How many items to skip.
    pub offset: u64,
}

#[derive(Deserialize)]
pub(crate) struct RawPage {
    limit: Option<u32>,
    offset: Option<u64>,
}

impl PageRequest {
    /// How many rows to fetch for this page: one more than `limit`, so
    /// [`Page::from_lookahead`](crate::Page::from_lookahead) can tell
    /// whether another page follows.
    pub fn lookahead(&self) -> u32 {
        self.limit.saturating_add(1)
    }

    /// The page a query string asks for under `config`: 400 when `limit` or
    /// `offset` is not a whole number of 0 or more.
    ///
    /// # Examples
    ///
    /// ```
    /// use secure_api_runtime::prelude::*;
    ///
    /// let page = PageRequest::from_query("limit=500&offset=40", PageConfig::default()).unwrap();
    /// assert_eq!((page.limit, page.offset), (100, 40));
    /// assert!(PageRequest::from_query("limit=-1", PageConfig::default()).is_err());
    /// ```
    pub fn from_query(query: &str, config: PageConfig) -> Result<Self, Problem> {
        web::Query::<RawPage>::from_query(query)
            .map(|raw| PageRequest {
                limit: raw
                    .limit
                    .unwrap_or(config.default_limit)
                    .clamp(1, config.max_limit.max(1)),
                offset: raw.offset.unwrap_or(0),
            })
            .map_err(|_| {
                Problem::new(StatusCode::BAD_REQUEST)
                    .with_detail("`limit` and `offset` are whole numbers of 0 or more")
            })
    }
}

impl FromRequest for PageRequest {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let config = req.app_data::<PageConfig>().copied().unwrap_or_default();
        ready(Self::from_query(req.query_string(), config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    async fn page(uri: &str, config: Option<PageConfig>) -> Result<PageRequest, u16> {
        let mut request = TestRequest::get().uri(uri);
        if let Some(config) = config {
            request = request.app_data(config);
        }
        let (req, mut payload) = request.to_http_parts();
        PageRequest::from_request(&req, &mut payload)
            .await
            .map_err(|p| p.status().as_u16())
    }

    #[actix_web::test]
    async fn limits_are_clamped_and_defaulted() {
        let fifty = Some(PageConfig {
            default_limit: 10,
            max_limit: 50,
        });
        assert_eq!(
            page("/x?limit=1000", fifty).await,
            Ok(PageRequest {
                limit: 50,
                offset: 0
            })
        );
        assert_eq!(
            page("/x?limit=0&offset=7", fifty).await,
            Ok(PageRequest {
                limit: 1,
                offset: 7
            })
        );
        assert_eq!(
            page("/x", fifty).await,
            Ok(PageRequest {
                limit: 10,
                offset: 0
            })
        );
        assert_eq!(
            page("/x?limit=500", None).await,
            Ok(PageRequest {
                limit: 100,
                offset: 0
            })
        );
        assert_eq!(page("/x?limit=-1", None).await, Err(400));
        assert_eq!(page("/x?offset=many", None).await, Err(400));
    }
}
