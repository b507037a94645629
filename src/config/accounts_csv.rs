//! `accounts-config.csv`: the vendor bundle's list of target accounts, one account id a row
//! under the header `account_id`. Files edited on Windows or in spreadsheets bring CRLF line
//! ends, blank lines, quotes and stray spaces; all are tolerated.

use crate::error::ConfigIssue;

use super::validate::{check_account_id, push_unique};

/// The column that holds the account ids.
pub const HEADER: &str = "account_id";

/// The account ids in `text` (deduplicated, in order), or one issue per bad row. `name` is
/// how the file is named in messages. A missing header row is accepted when the first row
/// already is an account id; other columns are ignored.
pub fn parse(name: &str, text: &str) -> Result<Vec<String>, Vec<ConfigIssue>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut column: Option<usize> = None;
    let mut accounts = Vec::new();
    let mut issues = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                issues.push(ConfigIssue {
                    key: name.to_string(),
                    value: String::new(),
                    fix: format!("unreadable CSV: {e}"),
                });
                break;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let col = match column {
            Some(c) => c,
            None => {
                // The first non-blank row decides: a header, or already data.
                if let Some(c) = record.iter().position(|f| f.eq_ignore_ascii_case(HEADER)) {
                    column = Some(c);
                    continue;
                }
                if record.get(0).is_some_and(|f| check_account_id(f).is_ok()) {
                    column = Some(0);
                    0
                } else {
                    issues.push(ConfigIssue {
                        key: format!("{name} line {line}"),
                        value: record.iter().collect::<Vec<_>>().join(","),
                        fix: format!("expected a header row `{HEADER}` then one account id a row"),
                    });
                    break;
                }
            }
        };
        let value = record.get(col).unwrap_or("");
        match check_account_id(value) {
            Ok(()) => push_unique(&mut accounts, [value.to_string()]),
            Err(fix) => issues.push(ConfigIssue {
                key: format!("{name} line {line}"),
                value: value.to_string(),
                fix,
            }),
        }
    }
    if issues.is_empty() {
        Ok(accounts)
    } else {
        Err(issues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_blank_lines_and_crlf() {
        let text = "account_id\r\n111111111111\r\n\r\n 222222222222 \r\n111111111111\r\n";
        assert_eq!(
            parse("accounts-config.csv", text),
            Ok(vec!["111111111111".to_string(), "222222222222".to_string()])
        );
    }

    #[test]
    fn header_only_or_empty_file_means_no_accounts() {
        assert_eq!(parse("a.csv", "account_id\n"), Ok(vec![]));
        assert_eq!(parse("a.csv", ""), Ok(vec![]));
        assert_eq!(parse("a.csv", "\n\n"), Ok(vec![]));
    }

    #[test]
    fn quoted_values_other_columns_and_no_header() {
        let text = "name,account_id\nprod,\"333333333333\"\n";
        assert_eq!(parse("a.csv", text), Ok(vec!["333333333333".to_string()]));
        assert_eq!(
            parse("a.csv", "444444444444\n555555555555"),
            Ok(vec!["444444444444".to_string(), "555555555555".to_string()])
        );
    }

    #[test]
    fn bad_rows_are_reported_with_line_numbers() {
        let issues = parse("accounts-config.csv", "account_id\n111111111111\n12345\n").unwrap_err();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "accounts-config.csv line 3");
        assert_eq!(issues[0].value, "12345");
        assert!(issues[0].fix.contains("12 digits"));
    }

    #[test]
    fn a_file_without_the_header_or_ids_is_rejected() {
        let issues = parse("a.csv", "accounts\n111111111111\n").unwrap_err();
        assert!(issues[0].fix.contains("account_id"), "{:?}", issues);
    }
}
