//! Layering of raw values: flag > process environment > `.env` file. Defaults are applied
//! later, per key, by the typed getters; this module only decides which raw string wins and
//! remembers how the user spelled its key, so messages point at what they actually wrote.

use std::collections::HashMap;

use crate::error::ConfigIssue;

use super::known_keys as keys;

/// One raw value and the key as the user wrote it (`cequence_x`, `CEQUENCE_X` or `--flag`).
/// No `Debug`: the value may be the client secret.
pub struct Setting {
    pub value: String,
    pub written_key: String,
}

impl Setting {
    /// The value, or `None` when blank: an empty value means "use the default" at any layer,
    /// which is how the vendor bundle's `.env` leaves optional variables unset.
    pub fn non_blank(&self) -> Option<&str> {
        (!self.value.trim().is_empty()).then_some(self.value.as_str())
    }
}

/// A value given by a command-line flag, for one configuration key.
pub struct FlagValue<'a> {
    pub key: &'static str,
    pub flag: &'static str,
    pub value: &'a str,
}

/// The winning raw value per known key.
pub struct Layers {
    values: HashMap<&'static str, Setting>,
}

impl Layers {
    /// Merge the layers, lowest first. Unknown `cequence_*` keys become issues; other keys
    /// (e.g. `AWS_PROFILE` in a shared `.env`) are none of our business and ignored.
    pub fn build(
        file: &[(String, String)],
        env: &HashMap<String, String>,
        flags: &[FlagValue<'_>],
        issues: &mut Vec<ConfigIssue>,
    ) -> Layers {
        let mut values = HashMap::new();
        let mut env_sorted: Vec<(&String, &String)> = env.iter().collect();
        env_sorted.sort();
        let layered = file.iter().map(|(k, v)| (k, v)).chain(env_sorted);
        for (key, value) in layered {
            if !keys::has_prefix(key) {
                continue;
            }
            match keys::canonical(key) {
                Some(canonical) => {
                    values.insert(
                        canonical,
                        Setting {
                            value: value.clone(),
                            written_key: key.clone(),
                        },
                    );
                }
                None => issues.push(ConfigIssue {
                    key: key.clone(),
                    value: if keys::looks_secret(key) {
                        "****".into()
                    } else {
                        value.clone()
                    },
                    fix: keys::unknown_key_fix(key),
                }),
            }
        }
        for flag in flags {
            values.insert(
                flag.key,
                Setting {
                    value: flag.value.to_string(),
                    written_key: flag.flag.to_string(),
                },
            );
        }
        Layers { values }
    }

    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.values.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn later_layers_win_and_keep_their_spelling() {
        let f = file(&[
            ("cequence_aws_regions", "us-east-1"),
            ("cequence_stackset_name", "from-file"),
            ("cequence_client_id", "file-id"),
        ]);
        let env = HashMap::from([
            ("CEQUENCE_AWS_REGIONS".to_string(), "eu-west-1".to_string()),
            ("CEQUENCE_STACKSET_NAME".to_string(), "from-env".to_string()),
        ]);
        let flags = [FlagValue {
            key: keys::AWS_REGIONS,
            flag: "--regions",
            value: "ap-south-1",
        }];
        let mut issues = vec![];
        let l = Layers::build(&f, &env, &flags, &mut issues);
        assert!(issues.is_empty());
        let r = l.get(keys::AWS_REGIONS).unwrap();
        assert_eq!(
            (r.value.as_str(), r.written_key.as_str()),
            ("ap-south-1", "--regions")
        );
        let s = l.get(keys::STACKSET_NAME).unwrap();
        assert_eq!(
            (s.value.as_str(), s.written_key.as_str()),
            ("from-env", "CEQUENCE_STACKSET_NAME")
        );
        let c = l.get(keys::CLIENT_ID).unwrap();
        assert_eq!(
            (c.value.as_str(), c.written_key.as_str()),
            ("file-id", "cequence_client_id")
        );
        assert!(l.get(keys::TARGET_OUS).is_none());
    }

    #[test]
    fn unknown_prefixed_keys_are_issues_and_others_are_ignored() {
        let f = file(&[("cequence_aws_region", "all"), ("AWS_PROFILE", "x")]);
        let env = HashMap::from([
            ("CEQUENCE_CLIENTID".to_string(), "x".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ]);
        let mut issues = vec![];
        Layers::build(&f, &env, &[], &mut issues);
        let keys: Vec<_> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["cequence_aws_region", "CEQUENCE_CLIENTID"]);
        assert!(issues[0].fix.contains("did you mean cequence_aws_regions?"));
        assert!(issues[1].fix.contains("did you mean CEQUENCE_CLIENT_ID?"));
    }

    #[test]
    fn a_misspelled_secret_key_does_not_echo_its_value() {
        let env = HashMap::from([("CEQUENCE_CLIENT_SECRE".to_string(), "hunter2".to_string())]);
        let mut issues = vec![];
        Layers::build(&[], &env, &[], &mut issues);
        assert_eq!(issues[0].value, "****");
        assert!(issues[0].fix.contains("CEQUENCE_CLIENT_SECRET"));
    }

    #[test]
    fn blank_values_count_as_unset() {
        let s = Setting {
            value: "  ".into(),
            written_key: "k".into(),
        };
        assert_eq!(s.non_blank(), None);
    }
}
