//! The two customer-configurable filters (docs/contract.md): which response bodies are worth sending
//! (by Content-Type) and which requests are static files not worth sending at all.

use regex_lite::{Regex, RegexBuilder};

/// The defaults of both filters: the contract's (`cq_contract::defaults`).
pub use cq_contract::defaults::{
    SUPPORTED_CONTENT_TYPES_REGEX as DEFAULT_SUPPORTED_CONTENT_TYPES,
    UNSUPPORTED_STATIC_EXTENSIONS_REGEX as DEFAULT_UNSUPPORTED_STATIC_EXTENSIONS,
};

#[derive(Clone, Debug)]
pub struct Filters {
    content_types: Regex,
    static_extensions: Regex,
}

impl Filters {
    /// Compiles both expressions. An empty expression means "use the default", because the
    /// template passes an empty parameter when the operator left the variable unset.
    /// The static-extension match is always case-insensitive (docs/contract.md), whatever the flags.
    pub fn new(
        supported_content_types: &str,
        unsupported_static_extensions: &str,
    ) -> Result<Self, regex_lite::Error> {
        let content_types = non_empty_or(supported_content_types, DEFAULT_SUPPORTED_CONTENT_TYPES);
        let static_extensions = non_empty_or(
            unsupported_static_extensions,
            DEFAULT_UNSUPPORTED_STATIC_EXTENSIONS,
        );
        Ok(Filters {
            content_types: Regex::new(content_types)?,
            static_extensions: RegexBuilder::new(static_extensions)
                .case_insensitive(true)
                .build()?,
        })
    }

    /// True when a response with this Content-Type keeps its body. A missing Content-Type
    /// never matches: we cannot tell what the bytes are.
    pub fn keeps_response_body(&self, content_type: Option<&str>) -> bool {
        content_type.is_some_and(|ct| self.content_types.is_match(ct))
    }

    /// True when the request targets a static file and is dropped. Only the path counts:
    /// the query string and fragment are cut off first.
    pub fn is_static(&self, uri: &str) -> bool {
        let path = uri.split(['?', '#']).next().unwrap_or(uri);
        self.static_extensions.is_match(path)
    }
}

impl Default for Filters {
    fn default() -> Self {
        Filters::new("", "").expect("built-in default expressions compile")
    }
}

fn non_empty_or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.trim().is_empty() {
        default
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_content_types() {
        let f = Filters::default();
        for ct in [
            "application/json",
            "application/json; charset=utf-8",
            " application/xml",
            "text/html;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "application/soap+xml",
            "text/xml",
        ] {
            assert!(f.keeps_response_body(Some(ct)), "{ct}");
        }
        for ct in [
            "image/png",
            "application/octet-stream",
            "text/plain",
            "application/problem+json",
        ] {
            assert!(!f.keeps_response_body(Some(ct)), "{ct}");
        }
        assert!(!f.keeps_response_body(None));
    }

    #[test]
    fn default_static_extensions_ignore_query_and_case() {
        let f = Filters::default();
        for path in [
            "/logo.png",
            "/a/b/Logo.PNG",
            "/app.js?v=3",
            "/doc.pdf#page=2",
            "/x.woff2",
        ] {
            assert!(f.is_static(path), "{path}");
        }
        for path in [
            "/pets",
            "/pets.json",
            "/png",
            "/search?file=a.png",
            "/a.jsx",
            "/",
        ] {
            assert!(!f.is_static(path), "{path}");
        }
    }

    #[test]
    fn custom_expressions_and_errors() {
        let f = Filters::new("^text/plain", r"\.bin$").unwrap();
        assert!(f.keeps_response_body(Some("text/plain")));
        assert!(!f.keeps_response_body(Some("application/json")));
        assert!(f.is_static("/firmware.BIN"));
        assert!(!f.is_static("/logo.png"));
        assert!(Filters::new("(", "").is_err());
        assert!(Filters::new("", "[").is_err());
    }
}
