//! Rebuilds `uri-query-fragment` from what API Gateway logs: the path and the query map are
//! logged decoded, so they are percent-encoded again here (UTF-8, RFC 3986).

/// `path?k=v&k2=v2`, or just the path when there is no query.
pub fn path_with_query(path: &str, query: &[(&str, &str)]) -> String {
    let mut uri = encode_path(path);
    for (i, (k, v)) in query.iter().enumerate() {
        uri.push(if i == 0 { '?' } else { '&' });
        encode_into(&mut uri, k, is_unreserved, false);
        uri.push('=');
        encode_into(&mut uri, v, is_unreserved, false);
    }
    uri
}

/// Encodes what may not appear raw in a path. `/` and the RFC 3986 sub-delimiters stay as
/// they are; a `%` already starting an escape (`%2F`) is kept, so a path that was logged
/// encoded is not encoded twice. A path that carries its own `?query` keeps it verbatim
/// (HTTP API access logs), except for characters that may not appear raw in a URI.
pub fn encode_path(path: &str) -> String {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut out = String::with_capacity(path.len() + 8);
    encode_into(&mut out, path, is_path_char, true);
    if let Some(query) = query {
        out.push('?');
        encode_into(&mut out, query, |b| is_path_char(b) || b == b'?', true);
    }
    out
}

/// Appends `text` with every byte `keep` rejects written as `%XX`. With `keep_escapes`, a `%`
/// that already starts an escape is kept (text that may have been logged encoded).
fn encode_into(out: &mut String, text: &str, keep: impl Fn(u8) -> bool, keep_escapes: bool) {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let starts_escape = keep_escapes
            && b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if keep(b) || starts_escape {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0x0f) as usize] as char);
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_path_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'/' | b':'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_path_is_unchanged() {
        assert_eq!(path_with_query("/pets/1", &[]), "/pets/1");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            path_with_query(
                "/search",
                &[("q", "red shoes"), ("tag", "a&b=c"), ("é", "ü")]
            ),
            "/search?q=red%20shoes&tag=a%26b%3Dc&%C3%A9=%C3%BC"
        );
        assert_eq!(path_with_query("/p", &[("pct", "100%")]), "/p?pct=100%25");
    }

    #[test]
    fn path_specials_are_encoded_once() {
        assert_eq!(encode_path("/files/my file#1"), "/files/my%20file%231");
        assert_eq!(encode_path("/a%2Fb"), "/a%2Fb");
        assert_eq!(encode_path("/100%"), "/100%25");
    }

    #[test]
    fn logged_query_in_path_is_kept() {
        assert_eq!(encode_path("/items?id=1&x=a b"), "/items?id=1&x=a%20b");
    }
}
