//! What a page request selects: the reader and the number of books, read from
//! the query string and the `user` cookie, with their defaults and limits.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use axum::extract::Query;
use axum::http::Uri;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

/// The reader a page is for when neither the query nor a cookie says (the notes' user 1).
pub const DEFAULT_USER: i32 = 1;
/// How many books a page shows unless `max` says otherwise (the notes' 3).
pub const DEFAULT_MAX: i32 = 3;
/// The `max` a reader may ask for.
pub const MAX_RESULTS: RangeInclusive<i32> = 1..=20;
/// The cookie that remembers the reader chosen in a query.
pub const USER_COOKIE: &str = "user";
/// How long the `user` cookie lasts: a year.
const REMEMBER_FOR: Duration = Duration::from_secs(31_536_000);

/// A query string the page cannot follow; the message says what to fix and
/// is shown to the reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadQuery(pub String);

/// Who a page is for and how many books it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// The reader the books are picked for.
    pub user: i32,
    /// How many books to ask for, within [`MAX_RESULTS`].
    pub max: i32,
    /// The reader came from the query and differs from the cookie's.
    pub remember_user: bool,
}

impl Selection {
    /// `user` from the query, else from the `user` cookie, else 1; `max`
    /// from the query, else 3. A bad value in the query is the reader's to
    /// fix; a bad cookie is ignored, as the reader cannot see it.
    pub fn from_request(uri: &Uri, cookies: &CookieJar) -> Result<Self, BadQuery> {
        let Query(query) =
            Query::<HashMap<String, String>>::try_from_uri(uri).map_err(|rejection| {
                BadQuery(format!(
                    "The query string cannot be read: {}",
                    rejection.body_text()
                ))
            })?;
        let cookie_user = cookie_user(cookies);
        let (user, remember_user) = match query.get("user") {
            Some(text) => {
                let user = text.trim().parse::<i32>().map_err(|_| {
                    BadQuery(format!(
                        "The reader number `user` must be a whole number, got \u{201c}{text}\u{201d}."
                    ))
                })?;
                (user, cookie_user != Some(user))
            }
            None => (cookie_user.unwrap_or(DEFAULT_USER), false),
        };
        let max = match query.get("max") {
            Some(text) => text
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|max| MAX_RESULTS.contains(max))
                .ok_or_else(|| {
                    BadQuery(format!(
                        "The number of books `max` must be a whole number from {} to {}, got \u{201c}{text}\u{201d}.",
                        MAX_RESULTS.start(),
                        MAX_RESULTS.end()
                    ))
                })?,
            None => DEFAULT_MAX,
        };
        Ok(Self {
            user,
            max,
            remember_user,
        })
    }

    /// The cookies to send back: with the `user` cookie set when the reader
    /// was chosen in the query, so that `/` shows their books next time.
    pub fn remember(&self, cookies: CookieJar) -> CookieJar {
        if self.remember_user {
            cookies.add(user_cookie(self.user))
        } else {
            cookies
        }
    }
}

/// The reader in the `user` cookie, if there is a readable one.
fn cookie_user(cookies: &CookieJar) -> Option<i32> {
    cookies
        .get(USER_COOKIE)
        .and_then(|cookie| cookie.value().trim().parse().ok())
}

/// The cookie remembering `user` for a year, for the whole site, never sent
/// by other sites' forms and unreadable by scripts.
fn user_cookie(user: i32) -> Cookie<'static> {
    Cookie::build((USER_COOKIE, user.to_string()))
        .path("/")
        .max_age(
            REMEMBER_FOR
                .try_into()
                .expect("a year is a valid cookie age"),
        )
        .same_site(SameSite::Lax)
        .http_only(true)
        .build()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    fn selection(query: &str, cookie: Option<&str>) -> Result<Selection, BadQuery> {
        let uri: Uri = format!("/?{query}").parse().unwrap();
        let mut headers = HeaderMap::new();
        if let Some(cookie) = cookie {
            headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        }
        Selection::from_request(&uri, &CookieJar::from_headers(&headers))
    }

    /// The `Set-Cookie` values a jar puts on a response.
    fn set_cookies(cookies: CookieJar) -> Vec<String> {
        use axum::response::IntoResponse;
        cookies
            .into_response()
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn without_query_or_cookie_the_page_is_the_notes_one() {
        let chosen = selection("", None).unwrap();
        assert_eq!(
            (chosen.user, chosen.max, chosen.remember_user),
            (1, 3, false)
        );
    }

    #[test]
    fn the_cookie_chooses_the_reader_when_the_query_does_not() {
        let chosen = selection("", Some("theme=dark; user=42")).unwrap();
        assert_eq!((chosen.user, chosen.remember_user), (42, false));
    }

    #[test]
    fn the_query_wins_over_the_cookie_and_is_remembered() {
        let chosen = selection("user=7&max=5", Some("user=42")).unwrap();
        assert_eq!(
            (chosen.user, chosen.max, chosen.remember_user),
            (7, 5, true)
        );
        let same = selection("user=42", Some("user=42")).unwrap();
        assert!(!same.remember_user);
    }

    #[test]
    fn an_unreadable_cookie_is_ignored() {
        assert_eq!(selection("", Some("user=abc")).unwrap().user, DEFAULT_USER);
    }

    #[test]
    fn negative_and_extreme_readers_are_valid() {
        assert_eq!(selection("user=-5", None).unwrap().user, -5);
        assert_eq!(selection("user=2147483647", None).unwrap().user, i32::MAX);
        assert!(selection("user=2147483648", None).is_err());
    }

    #[test]
    fn a_reader_from_the_query_is_remembered_for_a_year() {
        let chosen = selection("user=7", None).unwrap();
        let cookies = set_cookies(chosen.remember(CookieJar::new()));
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let mut attributes: Vec<_> = cookies[0].split("; ").collect();
        assert_eq!(attributes.remove(0), "user=7");
        attributes.sort_unstable();
        assert_eq!(
            attributes,
            ["HttpOnly", "Max-Age=31536000", "Path=/", "SameSite=Lax"]
        );
    }

    #[test]
    fn a_reader_from_the_cookie_is_not_sent_again() {
        let jar = CookieJar::from_headers(&HeaderMap::from_iter([(
            header::COOKIE,
            HeaderValue::from_static("user=42"),
        )]));
        let chosen = Selection::from_request(&Uri::from_static("/"), &jar).unwrap();
        assert!(set_cookies(chosen.remember(jar)).is_empty());
    }
}
