//! GraphiQL, served by the gateway itself, with no network and under a strict
//! Content-Security-Policy.
//!
//! The page and every file it loads are compiled into the binary from
//! `assets/graphiql/`: the production builds of React, ReactDOM and GraphiQL
//! (copied from `node_modules` by `scripts/copy-graphiql-assets.sh`, at the
//! exact versions `package-lock.json` pins, and committed), and the gateway's
//! own `index.html`, `page.css` and `bootstrap.js`. A browser that opens
//! GraphiQL asks nothing of any other origin, so the page works offline,
//! behind a proxy that blocks CDNs, and under the policy below, which allows
//! the gateway's own origin only (fonts and images also as `data:` URIs,
//! because GraphiQL's stylesheet embeds its fonts that way).

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// The path under which the assets are served.
pub const ASSETS_PATH: &str = "/graphiql/assets";

/// The Content-Security-Policy of the page: scripts, styles and requests
/// from the gateway's origin only, so no inline script and no CDN. One thing
/// it refuses is harmless: GraphiQL's dialogs (settings, shortcuts) add a
/// `<style>` element that locks the page's scrolling while they are open;
/// refused, the dialogs still open and close, and only that lock is lost.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The versioned vendor files never change under their name (the version is
/// in it), so a browser may keep them for a year without asking again.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The gateway's own files keep their names across releases, so a browser
/// must ask whether they changed (a cheap conditional request).
const REVALIDATE: &str = "no-cache";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static [u8],
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file `index.html` loads; a test checks that the page names no other.
const ASSETS: [Asset; 6] = [
    Asset {
        name: "react-18.3.1.production.min.js",
        content_type: JAVASCRIPT,
        cache_control: IMMUTABLE,
        body: include_bytes!("../assets/graphiql/react-18.3.1.production.min.js"),
    },
    Asset {
        name: "react-dom-18.3.1.production.min.js",
        content_type: JAVASCRIPT,
        cache_control: IMMUTABLE,
        body: include_bytes!("../assets/graphiql/react-dom-18.3.1.production.min.js"),
    },
    Asset {
        name: "graphiql-3.8.3.min.js",
        content_type: JAVASCRIPT,
        cache_control: IMMUTABLE,
        body: include_bytes!("../assets/graphiql/graphiql-3.8.3.min.js"),
    },
    Asset {
        name: "graphiql-3.8.3.min.css",
        content_type: CSS,
        cache_control: IMMUTABLE,
        body: include_bytes!("../assets/graphiql/graphiql-3.8.3.min.css"),
    },
    Asset {
        name: "page.css",
        content_type: CSS,
        cache_control: REVALIDATE,
        body: include_bytes!("../assets/graphiql/page.css"),
    },
    Asset {
        name: "bootstrap.js",
        content_type: JAVASCRIPT,
        cache_control: REVALIDATE,
        body: include_bytes!("../assets/graphiql/bootstrap.js"),
    },
];

const PAGE: &str = include_str!("../assets/graphiql/index.html");

/// The GraphiQL page, with its Content-Security-Policy.
pub fn page() -> Response {
    let mut response = Response::new(Body::from(PAGE));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The embedded file called `name`, or `None` when there is none.
pub fn asset(name: &str) -> Option<Response> {
    let asset = ASSETS.iter().find(|asset| asset.name == name)?;
    let mut response = Response::new(Body::from(asset.body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(asset.cache_control),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Some(response)
}

/// The names of every embedded file, for tests.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|asset| asset.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_exactly_the_embedded_files_and_no_inline_script() {
        let mut referenced: Vec<&str> = PAGE
            .split(['"', '\''])
            .filter_map(|part| part.strip_prefix("/graphiql/assets/"))
            .collect();
        referenced.sort_unstable();
        let mut embedded: Vec<&str> = asset_names().collect();
        embedded.sort_unstable();
        assert_eq!(referenced, embedded);
        // Every <script> has a src: an inline one would be refused by the
        // policy and GraphiQL would never start.
        assert_eq!(
            PAGE.matches("<script").count(),
            PAGE.matches("<script src=\"/graphiql/assets/").count()
        );
        assert!(!PAGE.contains("style="));
        assert!(!PAGE.contains("<style"));
    }
}
