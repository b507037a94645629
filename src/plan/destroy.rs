//! What `disable --destroy` deletes, from the stack instances that exist and the selection
//! (`--accounts`, `--regions` / `cequence_aws_regions`).
//!
//! The StackSet and the artifact buckets are shared by every instance: they go only when no
//! instance is left outside the selection, so a scoped destroy never strands the others.

use serde::Serialize;

use super::stackset::select_instances;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DestroyPlan {
    /// (account, region) stack instances to delete.
    pub instances: Vec<(String, String)>,
    /// Instances outside the selection, kept (with the StackSet and the buckets they use).
    pub kept: Vec<(String, String)>,
    /// Delete the StackSet: it exists and no instance would remain.
    pub delete_stackset: bool,
    /// Empty and delete this tool's buckets: allowed by `cequence_cfn_auto_delete_from_s3`
    /// and no instance would remain.
    pub delete_buckets: bool,
    /// The selection is every instance (no filter left one out): service-managed deletes
    /// can then address whole OUs, including accounts added since.
    pub everything: bool,
}

impl DestroyPlan {
    /// Nothing exists that this destroy would delete.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && !self.delete_stackset && !self.delete_buckets
    }
}

/// `existing`: the StackSet's instances; `accounts`/`regions`: the selection (empty = all).
pub fn plan_destroy(
    existing: &[(String, String)],
    accounts: &[String],
    regions: &[String],
    stackset_exists: bool,
    auto_delete_buckets: bool,
) -> DestroyPlan {
    let instances = select_instances(existing, accounts, regions);
    let kept: Vec<(String, String)> = existing
        .iter()
        .filter(|p| !instances.contains(p))
        .cloned()
        .collect();
    let nothing_left = kept.is_empty();
    DestroyPlan {
        everything: nothing_left,
        delete_stackset: stackset_exists && nothing_left,
        delete_buckets: auto_delete_buckets && nothing_left,
        instances,
        kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, r)| (a.to_string(), r.to_string()))
            .collect()
    }

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    #[test]
    fn no_selection_deletes_everything() {
        let existing = pairs(&[(A, "us-east-1"), (B, "eu-west-1")]);
        let plan = plan_destroy(&existing, &[], &[], true, true);
        assert_eq!(plan.instances, existing);
        assert!(plan.kept.is_empty());
        assert!(plan.delete_stackset && plan.delete_buckets && plan.everything);
    }

    #[test]
    fn a_region_selection_keeps_the_stackset_and_buckets_for_the_rest() {
        let existing = pairs(&[(A, "us-east-1"), (A, "eu-west-1"), (B, "eu-west-1")]);
        let plan = plan_destroy(&existing, &[], &["eu-west-1".to_string()], true, true);
        assert_eq!(plan.instances, pairs(&[(A, "eu-west-1"), (B, "eu-west-1")]));
        assert_eq!(plan.kept, pairs(&[(A, "us-east-1")]));
        assert!(!plan.delete_stackset && !plan.delete_buckets && !plan.everything);
    }

    #[test]
    fn an_account_selection_is_honoured_too() {
        let existing = pairs(&[(A, "us-east-1"), (B, "us-east-1")]);
        let plan = plan_destroy(&existing, &[B.to_string()], &[], true, true);
        assert_eq!(plan.instances, pairs(&[(B, "us-east-1")]));
        assert_eq!(plan.kept, pairs(&[(A, "us-east-1")]));
        assert!(!plan.delete_stackset);
    }

    #[test]
    fn a_selection_covering_every_instance_removes_the_shared_parts() {
        let existing = pairs(&[(A, "us-east-1")]);
        let plan = plan_destroy(
            &existing,
            &[A.to_string()],
            &["us-east-1".into()],
            true,
            false,
        );
        assert!(plan.delete_stackset && plan.everything);
        assert!(!plan.delete_buckets, "auto delete off keeps the buckets");
    }

    #[test]
    fn a_stackset_without_instances_is_deleted_and_nothing_is_empty() {
        let plan = plan_destroy(&[], &[], &["eu-west-1".into()], true, false);
        assert!(plan.delete_stackset && !plan.is_empty());
        let gone = plan_destroy(&[], &[], &[], false, false);
        assert!(gone.is_empty());
    }
}
