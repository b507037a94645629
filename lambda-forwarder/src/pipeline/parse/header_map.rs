//! API Gateway's `{K=V, K2=V2}` rendering of headers, query strings and path parameters.
//!
//! API Gateway joins pairs with `, ` and never escapes anything, so values may themselves
//! contain `, ` and `=` (`Accept=text/html, application/xml;q=0.9`, `Cookie=a=b; c=d`). We
//! therefore split only where `, ` is followed by something that looks like a header name (an
//! RFC 9110 token) and then `=`. The remaining ambiguity (a value containing `, token=`, e.g.
//! `Forwarded=for=a, for=b`) cannot be resolved from the text; such a value is split in two,
//! which loses nothing but the pairing of that one header.

/// Marker API Gateway appends when it cuts a log event at 1,024 bytes.
pub const TRUNCATED_MARKER: &str = " [TRUNCATED]";

/// A parsed `{...}` map; pairs in logged order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedMap<'a> {
    pub pairs: Vec<(&'a str, &'a str)>,
    /// The map was cut short by API Gateway; the cut-off last pair is left out.
    pub truncated: bool,
}

impl<'a> ParsedMap<'a> {
    /// First value of `name`, compared case-insensitively as HTTP header names are.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Parses a logged map. Tolerates a missing closing brace, a ` [TRUNCATED]` tail and
/// surrounding whitespace; returns no pairs for `{}`, empty or brace-less text that has no
/// `name=value` in it.
pub fn parse_map(text: &str) -> ParsedMap<'_> {
    let mut body = text.trim();
    let mut truncated = false;
    if let Some(rest) = body.strip_suffix(TRUNCATED_MARKER.trim_start()) {
        body = rest.trim_end();
        truncated = true;
    }
    body = body.strip_prefix('{').unwrap_or(body);
    if !truncated {
        body = body.strip_suffix('}').unwrap_or(body);
    }

    let mut pairs = Vec::new();
    let starts = pair_starts(body);
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(body.len(), |next| next - 2);
        let item = &body[start..end];
        if let Some((k, v)) = item.split_once('=') {
            if is_token(k) {
                pairs.push((k, v));
            }
        }
    }
    if truncated {
        // Whatever follows the last separator was cut mid-way: a partial value would be
        // reported as if it were real, so it is left out.
        pairs.pop();
    }
    ParsedMap { pairs, truncated }
}

/// Byte offsets where a `name=value` pair starts: 0, and after every `, ` that is followed
/// by a token and `=`. Three maps per request at millions of requests a minute: the commas are
/// found with `memchr`, token bytes by table.
fn pair_starts(body: &str) -> Vec<usize> {
    let bytes = body.as_bytes();
    let mut starts = Vec::with_capacity(16);
    starts.push(0);
    let mut from = 0;
    while let Some(at) = memchr::memchr(b',', &bytes[from..]) {
        let i = from + at;
        if bytes.get(i + 1) == Some(&b' ') && token_then_equals(&bytes[i + 2..]) {
            starts.push(i + 2);
            from = i + 2;
        } else {
            from = i + 1;
        }
    }
    starts
}

fn token_then_equals(bytes: &[u8]) -> bool {
    let len = bytes.iter().take_while(|b| is_tchar(**b)).count();
    len > 0 && bytes.get(len) == Some(&b'=')
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(&str, &str)> {
        parse_map(text).pairs
    }

    #[test]
    fn simple_map() {
        assert_eq!(
            pairs("{Host=api.example.com, Accept=*/*}"),
            vec![("Host", "api.example.com"), ("Accept", "*/*")]
        );
    }

    #[test]
    fn empty_maps() {
        assert!(pairs("{}").is_empty());
        assert!(pairs("").is_empty());
        assert!(pairs("   ").is_empty());
        assert!(!parse_map("{}").truncated);
    }

    #[test]
    fn values_with_comma_space_and_equals() {
        let text = "{Accept=text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8, \
                    Cookie=session=abc123; theme=dark, \
                    User-Agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko), \
                    X-Amzn-Trace-Id=Root=1-65f0-abc;Sampled=0}";
        assert_eq!(
            pairs(text),
            vec![
                (
                    "Accept",
                    "text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8"
                ),
                ("Cookie", "session=abc123; theme=dark"),
                (
                    "User-Agent",
                    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
                ),
                ("X-Amzn-Trace-Id", "Root=1-65f0-abc;Sampled=0"),
            ]
        );
    }

    #[test]
    fn empty_values_and_values_ending_in_comma() {
        assert_eq!(
            pairs("{X-Empty=, Host=h, X-Trailing=a,}"),
            vec![("X-Empty", ""), ("Host", "h"), ("X-Trailing", "a,")]
        );
    }

    #[test]
    fn value_with_braces_keeps_them() {
        assert_eq!(
            pairs("{X-Json={\"a\":1}, Host=h}"),
            vec![("X-Json", "{\"a\":1}"), ("Host", "h")]
        );
    }

    #[test]
    fn truncated_map_drops_the_partial_pair() {
        let m = parse_map("{Host=h, Accept=*/*, User-Agent=Mozil [TRUNCATED]");
        assert!(m.truncated);
        assert_eq!(m.pairs, vec![("Host", "h"), ("Accept", "*/*")]);
    }

    #[test]
    fn missing_closing_brace_is_tolerated() {
        assert_eq!(pairs("{Host=h, A=b"), vec![("Host", "h"), ("A", "b")]);
    }

    #[test]
    fn query_string_map() {
        assert_eq!(
            pairs("{q=red shoes, page=2, filter=a=b}"),
            vec![("q", "red shoes"), ("page", "2"), ("filter", "a=b")]
        );
    }

    #[test]
    fn leading_garbage_without_equals_is_ignored() {
        assert!(pairs("{no pairs here}").is_empty());
        assert_eq!(pairs("{bad key=1, Good=2}"), vec![("Good", "2")]);
    }

    #[test]
    fn get_is_case_insensitive() {
        let m = parse_map("{content-type=application/json}");
        assert_eq!(m.get("Content-Type"), Some("application/json"));
        assert_eq!(m.get("Host"), None);
    }

    #[test]
    fn unicode_values_do_not_split_mid_character() {
        assert_eq!(
            pairs("{X-Name=Zoë, café=ok, Host=h}"),
            vec![("X-Name", "Zoë, café=ok"), ("Host", "h")]
        );
    }

    /// Round trip over generated maps: any set of token names and values drawn from a
    /// hostile alphabet (`, `, `=`, `;`, spaces, non-ASCII) must come back exactly, as long
    /// as no value contains `, <token>=` (the one documented ambiguity).
    #[test]
    fn generated_maps_round_trip() {
        let value_parts = [
            "a", "b=c", ", ", " ", ";", "q=0.9", "é", "(x; y)", "/", "*", "{", "}", ",", "==",
        ];
        let names = ["Host", "X-A", "accept", "X_B", "c.d", "E~f"];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let count = (next() % 5) as usize;
            let mut expected = Vec::new();
            for i in 0..count {
                let name = names[(next() as usize + i) % names.len()].to_string();
                let mut value = String::new();
                for _ in 0..(next() % 6) {
                    value.push_str(value_parts[(next() as usize) % value_parts.len()]);
                }
                expected.push((name, value));
            }
            let ambiguous = expected.iter().any(|(_, v)| pair_starts(v).len() > 1);
            let text = format!(
                "{{{}}}",
                expected
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if ambiguous {
                // Never panics, whatever the outcome.
                let _ = parse_map(&text);
                continue;
            }
            let got: Vec<(String, String)> = parse_map(&text)
                .pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, expected, "input: {text}");
        }
    }

    #[test]
    fn the_token_table_is_rfc_9110_tchar() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), expected, "{b:#x}");
        }
    }
}
