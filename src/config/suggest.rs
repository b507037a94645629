//! "Did you mean …?" for mistyped keys and region names: typos must be caught, and the
//! message should point at the right spelling.

/// The option closest to `input` by edit distance, if it is close enough to be a plausible
/// typo (at most a third of the input's length, and at least 2 edits allowed).
pub fn closest<'a>(input: &str, options: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    let limit = (input.chars().count() / 3).max(2);
    options
        .into_iter()
        .map(|o| (edit_distance(&input, &o.to_ascii_lowercase()), o))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

/// Levenshtein distance (insert, delete, substitute), on chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "abd"), 1);
        assert_eq!(edit_distance("abc", "ab"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_close_options_only() {
        let opts = ["cequence_aws_regions", "cequence_client_id"];
        assert_eq!(
            closest("cequence_aws_region", opts),
            Some("cequence_aws_regions")
        );
        assert_eq!(
            closest("CEQUENCE_AWS_REGOINS", opts),
            Some("cequence_aws_regions")
        );
        assert_eq!(closest("cequence_something_else", opts), None);
    }
}
