//! The few server-rendered HTML pages (the CSAT survey, the email unsubscribe page):
//! how a page goes out. The pages themselves are askama templates in `templates/`,
//! compiled into the binary and HTML-escaped by their `.html` extension; a handler
//! fills a template struct and calls [`page`]. No HTML is built with `format!`.

use actix_web::{http::StatusCode, HttpResponse};
use askama::Template;

/// `template` rendered, not cached, without a referrer, under the given
/// Content-Security-Policy. A render error (a value whose `Display` fails) is a 500.
pub fn page(status: StatusCode, csp: &'static str, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .insert_header(("Content-Security-Policy", csp))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "page template did not render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fails;

    impl std::fmt::Display for Fails {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            Err(std::fmt::Error)
        }
    }

    #[derive(Template)]
    #[template(source = "<p>{{ value }}</p>", ext = "html")]
    struct Probe<T: std::fmt::Display> {
        value: T,
    }

    #[test]
    fn headers_escaping_and_a_failed_render() {
        let ok = page(
            StatusCode::NOT_FOUND,
            "default-src 'none'",
            &Probe { value: "<b>" },
        );
        assert_eq!(ok.status(), StatusCode::NOT_FOUND);
        for (name, value) in [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("referrer-policy", "no-referrer"),
            ("content-security-policy", "default-src 'none'"),
        ] {
            assert_eq!(ok.headers().get(name).unwrap(), value, "{name}");
        }
        let body = actix_web::body::to_bytes(ok.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        assert_eq!(body, "<p>&#60;b&#62;</p>");
        let failed = page(StatusCode::OK, "x", &Probe { value: Fails });
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
