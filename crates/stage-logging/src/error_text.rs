//! One readable line for an AWS SDK error, shared by the CLI, this library and the forwarder.
//!
//! `DisplayErrorContext` ends with the error's `Debug` form, which for an SDK error is the whole
//! raw HTTP response: unreadable in a terminal. The `Display` chain alone ("service error:
//! AccessDenied: ...") is what an operator needs.

use std::error::Error;

/// The `Display` of `err` and of each of its sources, joined with `: `, with repeats dropped.
pub fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("service error")
        }
    }
    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("AccessDenied: not allowed")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }
    impl Error for Inner {}

    #[test]
    fn joins_the_display_chain_without_debug_noise() {
        assert_eq!(
            error_chain(&Outer(Inner)),
            "service error: AccessDenied: not allowed"
        );
    }
}
