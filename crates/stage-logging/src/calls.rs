//! The log of API calls made for one stage, so the caller can say exactly what was changed.

/// Ordered list of `service:Operation target` strings.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    calls: Vec<String>,
}

impl CallLog {
    /// Record a call before making it (a failed call is still listed: it may have had effect).
    pub(crate) fn record(&mut self, service: &str, operation: &str, target: &str) -> String {
        let entry = if target.is_empty() {
            format!("{service}:{operation}")
        } else {
            format!("{service}:{operation} {target}")
        };
        self.calls.push(entry.clone());
        entry
    }

    pub(crate) fn into_vec(self) -> Vec<String> {
        self.calls
    }
}

/// Whether a recorded call changes state: everything but Get*/List*/Describe*.
pub(crate) fn is_mutating(call: &str) -> bool {
    let op = call
        .split_whitespace()
        .next()
        .and_then(|s| s.split(':').nth(1))
        .unwrap_or(call);
    !(op.starts_with("Get") || op.starts_with("List") || op.starts_with("Describe"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_calls_are_not_mutating() {
        assert!(!is_mutating("apigateway:GetStage restapis/a/stages/b"));
        assert!(!is_mutating(
            "logs:DescribeLogGroups API-Gateway-Execution-Logs_a/b"
        ));
        assert!(!is_mutating("apigatewayv2:GetTags"));
        assert!(is_mutating("apigateway:UpdateStage restapis/a/stages/b"));
        assert!(is_mutating("logs:PutRetentionPolicy g"));
        assert!(is_mutating("apigateway:TagResource arn"));
    }

    #[test]
    fn records_in_order_with_targets() {
        let mut log = CallLog::default();
        log.record("apigateway", "GetAccount", "");
        log.record("apigateway", "GetStage", "restapis/a/stages/b");
        assert_eq!(
            log.into_vec(),
            vec![
                "apigateway:GetAccount".to_string(),
                "apigateway:GetStage restapis/a/stages/b".to_string()
            ]
        );
    }
}
