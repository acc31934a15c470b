//! The admin pages' frame: one layout (navigation, who is logged in, logout), our
//! own stylesheet, no inline script or style (the CSP forbids both).

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::admin::{CSRF_FIELD, Caller};
use crate::error::escape;

const CSS: &str = include_str!("../assets/app.css");

/// The pages the navigation names, in order: (path, label).
pub const NAV: &[(&str, &str)] = &[
    ("/", "Connections"),
    ("/flows", "Flows"),
    ("/runs", "Runs"),
    ("/review", "Review"),
    ("/dead-letters", "Dead letters"),
    ("/health", "Health"),
];

/// GET /assets/app.css
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// The hidden CSRF field every form of a logged-in page carries.
pub fn csrf_input(caller: &Caller) -> String {
    format!(
        "<input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{}\">",
        escape(caller.csrf())
    )
}

/// A full page: `current` is the navigation path it belongs to.
pub fn page(title: &str, caller: Option<&Caller>, current: &str, body: &str) -> Html<String> {
    let header = match caller {
        Some(c) => {
            let nav: String = NAV
                .iter()
                .map(|(path, label)| {
                    let here = if *path == current {
                        " aria-current=\"page\""
                    } else {
                        ""
                    };
                    format!("<a href=\"{path}\"{here}>{label}</a>")
                })
                .collect();
            format!(
                "<header><a class=\"brand\" href=\"/\">ghlsync</a><nav>{nav}</nav>\
                 <span class=\"who\">{} ({})</span>\
                 <form method=\"post\" action=\"/logout\">{}<button class=\"secondary\" type=\"submit\">Log out</button></form></header>",
                escape(&c.name),
                c.role,
                csrf_input(c)
            )
        }
        None => "<header><span class=\"brand\">ghlsync</span></header>".to_owned(),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · ghlsync</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head>\
         <body>{header}<main>{body}</main></body></html>",
        escape(title)
    ))
}
