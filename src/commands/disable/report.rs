//! What `disable` did, printed as text or JSON.

use std::fmt;

use serde::Serialize;

use crate::aws::stackset::OperationOutcome;

#[derive(Debug, Default, Serialize)]
pub struct DisableReport {
    pub stackset_name: String,
    pub destroy: bool,
    /// (account, region) pairs whose capture was turned off now.
    pub disabled: Vec<(String, String)>,
    /// Pairs that were already off.
    pub already_disabled: Vec<(String, String)>,
    pub deleted_instances: Vec<(String, String)>,
    /// Instances outside a scoped destroy's selection: they keep the StackSet and buckets.
    pub kept_instances: Vec<(String, String)>,
    pub stackset_deleted: bool,
    pub buckets_deleted: Vec<String>,
    pub operations: Vec<OperationOutcome>,
    /// The StackSet did not exist.
    pub not_found: bool,
    /// One line per API stage of the caller's account whose recorded settings were restored.
    pub stage_logging: Vec<String>,
    /// Stages (or regions) that could not be restored; they make the exit code 1.
    pub stage_logging_failures: Vec<String>,
}

impl fmt::Display for DisableReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs = |v: &[(String, String)]| {
            v.iter()
                .map(|(a, r)| format!("{a}/{r}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.not_found {
            writeln!(f, "StackSet {} does not exist", self.stackset_name)?;
        }
        if !self.disabled.is_empty() {
            writeln!(f, "capture turned off for: {}", pairs(&self.disabled))?;
        }
        if !self.already_disabled.is_empty() {
            writeln!(f, "already off: {}", pairs(&self.already_disabled))?;
        }
        if !self.deleted_instances.is_empty() {
            writeln!(
                f,
                "stack instances deleted: {}",
                pairs(&self.deleted_instances)
            )?;
        }
        if self.stackset_deleted {
            writeln!(f, "StackSet {} deleted", self.stackset_name)?;
        }
        if !self.kept_instances.is_empty() {
            writeln!(
                f,
                "kept StackSet {} and its buckets for {} instance(s) outside the selection: {}",
                self.stackset_name,
                self.kept_instances.len(),
                pairs(&self.kept_instances)
            )?;
        }
        for b in &self.buckets_deleted {
            writeln!(f, "bucket {b} emptied and deleted")?;
        }
        for s in &self.stage_logging {
            writeln!(f, "stage logging: {s}")?;
        }
        for s in &self.stage_logging_failures {
            writeln!(f, "stage logging FAILED: {s}")?;
        }
        for op in &self.operations {
            writeln!(
                f,
                "operation {} {}: {}",
                op.operation_id, op.action, op.status
            )?;
            for i in op.instances.iter().filter(|i| !i.status_reason.is_empty()) {
                writeln!(
                    f,
                    "  {} {}: {} ({})",
                    i.account, i.region, i.status, i.status_reason
                )?;
            }
        }
        let nothing = self.disabled.is_empty()
            && self.deleted_instances.is_empty()
            && !self.stackset_deleted
            && self.buckets_deleted.is_empty()
            && self.stage_logging.is_empty();
        let failures = self.stage_logging_failures.len();
        if failures > 0 {
            write!(f, "{failures} stage logging failure(s)")
        } else if nothing {
            write!(f, "nothing to change")
        } else {
            write!(f, "disable complete")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_lines_and_failures_are_shown() {
        let r = DisableReport {
            stackset_name: "s".into(),
            stage_logging: vec!["us-east-1 rest a (x) stage prod: restored".into()],
            ..Default::default()
        };
        let text = r.to_string();
        assert!(text.contains("stage logging: us-east-1 rest a (x) stage prod"));
        assert!(text.ends_with("disable complete"));
        let failed = DisableReport {
            stage_logging_failures: vec!["eu-west-1: denied".into()],
            ..r
        };
        let text = failed.to_string();
        assert!(text.contains("stage logging FAILED: eu-west-1: denied"));
        assert!(text.ends_with("1 stage logging failure(s)"));
    }

    #[test]
    fn empty_report_says_nothing_to_change() {
        let r = DisableReport {
            stackset_name: "s".into(),
            not_found: true,
            ..Default::default()
        };
        let text = r.to_string();
        assert!(text.contains("does not exist"));
        assert!(text.ends_with("nothing to change"));
    }
}
