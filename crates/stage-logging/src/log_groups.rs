//! Making sure the log group a stage writes to exists, without touching an existing one.

use aws_sdk_cloudwatchlogs::Client;

use crate::calls::CallLog;
use crate::error::Error;
use crate::names::destination_arn;
use crate::plan::{decide_log_group, LogGroupAction};

/// An existing log group.
#[derive(Clone, Debug)]
pub(crate) struct LogGroup {
    /// ARN without the trailing `:*` (as AccessLogSettings wants it), when the service returned one.
    pub arn: Option<String>,
}

/// Look up one log group by exact name.
pub(crate) async fn find(
    logs: &Client,
    name: &str,
    calls: &mut CallLog,
) -> Result<Option<LogGroup>, Error> {
    let mut token: Option<String> = None;
    loop {
        let call = calls.record("logs", "DescribeLogGroups", name);
        let page = logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| Error::aws(&call, e))?;
        // The prefix also matches longer names (`.../prod` and `.../prod2`): take the exact one.
        if let Some(g) = page
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
        {
            let arn = g
                .log_group_arn()
                .or(g.arn())
                .map(|a| destination_arn(a).to_string());
            return Ok(Some(LogGroup { arn }));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => return Ok(None),
        }
    }
}

/// Create the group with `retention_days` when it is missing. Returns the group (its ARN is
/// looked up again after creation only when `want_arn`) and whether it was created.
pub(crate) async fn ensure(
    logs: &Client,
    name: &str,
    retention_days: i32,
    want_arn: bool,
    calls: &mut CallLog,
) -> Result<(LogGroup, bool), Error> {
    let existing = find(logs, name, calls).await?;
    let LogGroupAction::Create { retention_days } =
        decide_log_group(existing.is_some(), retention_days)
    else {
        return Ok((existing.expect("exists when kept"), false));
    };
    let call = calls.record("logs", "CreateLogGroup", name);
    if let Err(e) = logs.create_log_group().log_group_name(name).send().await {
        // Created meanwhile (API Gateway creates execution groups on first request): fine.
        let exists = e
            .as_service_error()
            .is_some_and(|se| se.is_resource_already_exists_exception());
        if !exists {
            return Err(Error::aws(&call, e));
        }
        let group = find(logs, name, calls).await?;
        return Ok((group.unwrap_or(LogGroup { arn: None }), false));
    }
    let call = calls.record("logs", "PutRetentionPolicy", name);
    logs.put_retention_policy()
        .log_group_name(name)
        .retention_in_days(retention_days)
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;
    if !want_arn {
        return Ok((LogGroup { arn: None }, true));
    }
    let group = find(logs, name, calls).await?;
    Ok((group.unwrap_or(LogGroup { arn: None }), true))
}
