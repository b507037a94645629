//! The rules for free-form values that cross the seams: each returns the text that says what
//! is allowed, and the caller (the CLI's loader, the forwarder's config) adds the name of its
//! key or variable and the value.

/// `true`/`false`, and also `yes`/`no`, `1`/`0` (any case): the vendor bundle writes
/// `true`/`false`, shell users habitually write the others, and none of them is ambiguous.
/// The template passes `true`/`false` only, so the forwarder reads what the CLI reads.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err("expected true or false (also accepted: yes/no, 1/0)".into()),
    }
}

/// A regular expression in Rust regex syntax as `regex-lite` compiles it (the forwarder's
/// engine): no Unicode classes such as `\p{L}`; `\d`, `\w` and `(?i)` are ASCII only.
pub fn check_regex(s: &str) -> Result<(), String> {
    regex_lite::Regex::new(s).map(|_| ()).map_err(|e| {
        format!(
            "not a valid regular expression (Rust regex syntax without Unicode classes such as \\p{{L}}): {e}"
        )
    })
}

/// The policy for the auth and Edge endpoints, which receive the client secret and the token:
/// `https://` with a host and no embedded credentials; plain `http://` only when the host is
/// this machine (localhost, 127.0.0.0/8, ::1), so a local stand-in works in tests and a secret
/// never crosses a network in clear. Syntax beyond that is the caller's (the CLI parses the
/// URL fully; the forwarder has no URL parser in its zip).
pub fn check_endpoint(s: &str) -> Result<(), String> {
    let s = s.trim();
    let (secure, rest) = match s.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
        _ => {
            return Err("expected an https:// URL (http:// only for localhost or 127.0.0.1)".into())
        }
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("the URL must not embed credentials".into());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if host.is_empty() || rest.contains(char::is_whitespace) {
        return Err("the URL has no host; expected https://host/path".into());
    }
    if !secure && !is_loopback(host) {
        return Err("expected an https:// URL (http:// only for localhost or 127.0.0.1)".into());
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", " yes ", "1"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["false", "No", "0"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        assert!(parse_bool("maybe").unwrap_err().contains("true or false"));
    }

    #[test]
    fn regexes() {
        assert!(check_regex("^application/json").is_ok());
        assert!(check_regex("(")
            .unwrap_err()
            .contains("not a valid regular expression"));
        assert!(
            check_regex(r"\p{L}").is_err(),
            "Unicode classes are refused"
        );
    }

    #[test]
    fn endpoints() {
        for ok in [
            "https://auth.example.com/token",
            "https://edge.example:8443",
            "http://127.0.0.1:9000/token",
            "http://localhost/x",
            "http://[::1]:80/",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("http://auth.example.com/token", "https://"),
            ("ftp://x", "https://"),
            ("auth.example.com", "https://"),
            ("https://", "no host"),
            ("https:///path", "no host"),
            ("https://user:pw@auth.example.com/", "credentials"),
            ("https://a b/", "no host"),
        ] {
            let e = check_endpoint(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
