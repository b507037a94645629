//! AWS region codes known to exist, so a typo such as `us-est-1` is caught before any AWS
//! call. Whether a region is *enabled* for the account is decided later, by Account ListRegions.

/// Every public region code across the commercial, China, GovCloud, ISO and European
/// Sovereign Cloud partitions (as of 2026).
pub const KNOWN_REGIONS: &[&str] = &[
    // aws
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    // aws-cn
    "cn-north-1",
    "cn-northwest-1",
    // aws-us-gov
    "us-gov-east-1",
    "us-gov-west-1",
    // aws-iso, aws-iso-b, aws-iso-e, aws-iso-f
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
    // aws-eusc
    "eusc-de-east-1",
];

/// The word that means "every region enabled for the account".
pub const ALL: &str = "all";

/// `Ok` for a known region code; otherwise the fix, with a suggestion when it looks like a typo.
pub fn check_region(code: &str) -> Result<(), String> {
    if KNOWN_REGIONS.contains(&code) {
        return Ok(());
    }
    let shaped = code.split('-').all(|p| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }) && code.split('-').count() >= 3
        && code
            .rsplit('-')
            .next()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
    let what = if shaped {
        format!("`{code}` is not a known AWS region")
    } else {
        format!("`{code}` is not an AWS region code (like us-east-1)")
    };
    match super::suggest::closest(code, KNOWN_REGIONS.iter().copied()) {
        Some(s) => Err(format!("{what}; did you mean {s}?")),
        None => Err(format!("{what}; use `all` or a comma list of region codes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_regions_pass() {
        for r in ["us-east-1", "cn-north-1", "us-gov-west-1", "ap-southeast-7"] {
            assert_eq!(check_region(r), Ok(()));
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        let e = check_region("us-est-1").unwrap_err();
        assert!(e.contains("did you mean us-east-1?"), "{e}");
        let e = check_region("US-EAST-1").unwrap_err();
        assert!(e.contains("not an AWS region code"), "{e}");
    }

    #[test]
    fn well_formed_but_unknown_region() {
        let e = check_region("zz-nowhere-9").unwrap_err();
        assert!(e.contains("not a known AWS region"), "{e}");
    }

    #[test]
    fn list_has_no_duplicates() {
        let mut v = KNOWN_REGIONS.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), KNOWN_REGIONS.len());
    }
}
