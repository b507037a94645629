//! What `enable` did or, with `--dry-run`, would do: printed as text or JSON.

use std::fmt;

use serde::Serialize;

use crate::aws::stackset::OperationOutcome;
use crate::plan::bucket::BucketAction;
use crate::plan::stackset::{InstanceBatch, StackSetChange};

#[derive(Debug, Serialize)]
pub struct BucketReport {
    pub region: String,
    pub bucket: String,
    pub actions: Vec<BucketAction>,
}

/// The result of `enable`, printed as text or JSON.
#[derive(Debug, Serialize)]
pub struct EnableReport {
    pub account: String,
    pub home_region: String,
    pub stackset_name: String,
    pub regions: Vec<String>,
    pub template_url: String,
    pub dry_run: bool,
    /// Whether anything was (or, with `--dry-run`, would be) changed.
    pub changed: bool,
    pub buckets: Vec<BucketReport>,
    pub stackset_change: Option<StackSetChange>,
    pub add_instances: Vec<InstanceBatch>,
    /// Instances brought back to the StackSet's values: overrides left by `disable` cleared,
    /// instances a partly failed operation left OUTDATED updated.
    pub reset_instances: Vec<InstanceBatch>,
    /// One line per API stage whose logging changed (or would change).
    pub stage_logging: Vec<String>,
    /// Stages (or regions) whose logging could not be changed; they make the exit code 1.
    pub stage_logging_failures: Vec<String>,
    pub operations: Vec<OperationOutcome>,
}

impl EnableReport {
    /// Every failed stack instance or operation, and every stage that could not be captured:
    /// each makes the exit code 1.
    pub fn failures(&self) -> Vec<String> {
        let stages = self
            .stage_logging_failures
            .iter()
            .map(|f| format!("stage logging {f}"));
        self.operations
            .iter()
            .flat_map(OperationOutcome::failures)
            .chain(stages)
            .collect()
    }
}

impl fmt::Display for EnableReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "S3 template URL to use in AWS CloudFormation Console: {}",
            self.template_url
        )?;
        if !self.changed {
            return write!(
                f,
                "nothing to change: StackSet {} is up to date in {} region(s)",
                self.stackset_name,
                self.regions.len()
            );
        }
        let verb = if self.dry_run { "would" } else { "did" };
        if self.dry_run {
            writeln!(f, "Plan (dry run, nothing changed):")?;
        }
        for b in self.buckets.iter().filter(|b| !b.actions.is_empty()) {
            let actions: Vec<String> = b.actions.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "  bucket {} ({}): {}",
                b.bucket,
                b.region,
                actions.join(", ")
            )?;
        }
        match self.stackset_change {
            Some(StackSetChange::Create) => {
                writeln!(f, "  {verb} create StackSet {}", self.stackset_name)?
            }
            Some(StackSetChange::Update) => {
                writeln!(f, "  {verb} update StackSet {}", self.stackset_name)?
            }
            None => {}
        }
        for batch in &self.add_instances {
            writeln!(f, "  {verb} add stack instances: {batch}")?;
        }
        for batch in &self.reset_instances {
            writeln!(
                f,
                "  {verb} bring stack instances back to the StackSet's values (overrides cleared, outdated updated): {batch}"
            )?;
        }
        for s in &self.stage_logging {
            writeln!(f, "  stage logging: {s}")?;
        }
        for s in &self.stage_logging_failures {
            writeln!(f, "  stage logging FAILED: {s}")?;
        }
        for op in &self.operations {
            writeln!(
                f,
                "  operation {} {}: {}",
                op.operation_id, op.action, op.status
            )?;
            for i in &op.instances {
                write!(f, "    {} {}: {}", i.account, i.region, i.status)?;
                if !i.status_reason.is_empty() {
                    write!(f, " ({})", i.status_reason)?;
                }
                writeln!(f)?;
            }
        }
        let failures = self.failures();
        if failures.is_empty() {
            write!(
                f,
                "{}",
                if self.dry_run {
                    "dry run complete"
                } else {
                    "enable complete"
                }
            )
        } else {
            write!(f, "{} failure(s)", failures.len())
        }
    }
}
