//! Listing the REST and HTTP stages of a region with the settings the decisions need.

use aws_sdk_apigatewayv2::types::ProtocolType;

use crate::calls::CallLog;
use crate::clients::Clients;
use crate::delivery_plan::{DeliveryKind, LOG_DELIVERY_TAG};
use crate::error::Error;
use crate::model::{ApiType, StageStatus};
use crate::names::{
    http_access_log_group, log_group_name_from_arn, rest_execution_log_group, ADDED_SETTING_TAG,
    PREVIOUS_LOGGING_TAG,
};
use crate::plan::{self, ALL_METHODS};
use crate::previous::{AccessLog, RestLogging};

/// A REST stage as read by GetStages.
#[derive(Clone, Debug)]
pub(crate) struct RestStage {
    pub api_id: String,
    pub api_name: String,
    pub stage: String,
    /// The `*/*` method settings (None: no override).
    pub all_methods: Option<RestLogging>,
    /// Fingerprint of the `*/*` override's other fields now (None: no override).
    pub all_methods_other: Option<String>,
    pub previous_tag: Option<String>,
    /// `ADDED_SETTING_TAG`: the same fingerprint when this library added the override.
    pub added_setting_tag: Option<String>,
    /// `LOG_DELIVERY_TAG`: the log delivery this library made for full execution logs.
    pub delivery_tag: Option<String>,
}

/// The fields of a method setting a customer may change besides logging.
pub(crate) fn other_fields(
    m: &aws_sdk_apigateway::types::MethodSetting,
) -> plan::OtherMethodFields {
    plan::OtherMethodFields {
        metrics_enabled: m.metrics_enabled(),
        throttling_burst_limit: m.throttling_burst_limit(),
        throttling_rate_limit: m.throttling_rate_limit(),
        caching_enabled: m.caching_enabled(),
        cache_ttl_in_seconds: m.cache_ttl_in_seconds(),
        cache_data_encrypted: m.cache_data_encrypted(),
        require_authorization_for_cache_control: m.require_authorization_for_cache_control(),
        unauthorized_cache_control_header_strategy: m
            .unauthorized_cache_control_header_strategy()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// An HTTP stage as read by GetStages.
#[derive(Clone, Debug)]
pub(crate) struct HttpStage {
    pub api_id: String,
    pub api_name: String,
    pub stage: String,
    pub access_log: Option<AccessLog>,
    pub previous_tag: Option<String>,
}

impl RestStage {
    pub(crate) fn status(&self, captured: bool, reason: Option<String>) -> StageStatus {
        StageStatus {
            api_type: ApiType::Rest,
            api_id: self.api_id.clone(),
            api_name: self.api_name.clone(),
            stage: self.stage.clone(),
            captured,
            log_group: captured.then(|| rest_execution_log_group(&self.api_id, &self.stage)),
            reason,
            execution_logs: captured.then(|| self.delivery_kind()),
        }
    }

    /// Full when this library's delivery is recorded on the stage.
    pub(crate) fn delivery_kind(&self) -> DeliveryKind {
        if self.delivery_tag.is_some() {
            DeliveryKind::Full
        } else {
            DeliveryKind::Standard
        }
    }

    /// The groups the forwarder may have read (and subscribed) for this stage.
    pub(crate) fn read_groups(&self) -> Vec<String> {
        vec![rest_execution_log_group(&self.api_id, &self.stage)]
    }

    /// The call that read this stage (listed first in its outcome).
    pub(crate) fn read_call(&self) -> (&'static str, &'static str, String) {
        (
            "apigateway",
            "GetStages",
            format!("restapis/{}", self.api_id),
        )
    }
}

impl HttpStage {
    pub(crate) fn own_group(&self) -> String {
        http_access_log_group(&self.api_id, &self.stage)
    }

    /// The groups the forwarder may have read (and subscribed) for this stage: ours, and the
    /// customer's own group when its access logs were read in place.
    pub(crate) fn read_groups(&self) -> Vec<String> {
        let mut groups = vec![self.own_group()];
        if let Some(customer) = self
            .access_log
            .as_ref()
            .and_then(|a| log_group_name_from_arn(&a.destination_arn))
        {
            if !groups.iter().any(|g| g == customer) {
                groups.push(customer.to_string());
            }
        }
        groups
    }

    pub(crate) fn is_default_stage(&self) -> bool {
        self.stage == cq_contract::log_groups::DEFAULT_STAGE
    }

    pub(crate) fn status(
        &self,
        captured: bool,
        log_group: Option<String>,
        reason: Option<String>,
    ) -> StageStatus {
        StageStatus {
            api_type: ApiType::Http,
            api_id: self.api_id.clone(),
            api_name: self.api_name.clone(),
            stage: self.stage.clone(),
            captured,
            log_group,
            reason,
            execution_logs: None,
        }
    }

    pub(crate) fn read_call(&self) -> (&'static str, &'static str, String) {
        ("apigatewayv2", "GetStages", format!("apis/{}", self.api_id))
    }
}

/// Every stage of the region. A failed GetStages for one API is kept in `errors` so the other
/// APIs are still processed.
#[derive(Debug, Default)]
pub(crate) struct Inventory {
    pub rest: Vec<RestStage>,
    pub http: Vec<HttpStage>,
    pub errors: Vec<Error>,
    /// Some APIs were not read (`Scope::max_stages` reached): more stages come after these.
    pub truncated: bool,
}

/// Which stages to read: those whose key comes after `after` (in key order: HTTP APIs, then
/// REST, each by id), from no more APIs than it takes to reach `max_stages` of them. A chunk of
/// a large region then reads only what it can change.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Scope<'a> {
    pub after: Option<&'a str>,
    pub max_stages: Option<usize>,
}

impl Scope<'_> {
    /// Every key of this API's stages is at or before `after`: nothing left to read there.
    fn done(&self, api_type: ApiType, api_id: &str) -> bool {
        let Some(after) = self.after else {
            return false;
        };
        let prefix = crate::model::stage_key(api_type, api_id, "");
        prefix.as_str() < after && !after.starts_with(prefix.as_str())
    }

    fn counts(&self, api_type: ApiType, api_id: &str, stage: &str) -> bool {
        self.after
            .is_none_or(|a| crate::model::stage_key(api_type, api_id, stage).as_str() > a)
    }
}

/// List REST and HTTP stages. Fails only when the API lists themselves cannot be read.
pub(crate) async fn inventory(clients: &Clients, calls: &mut CallLog) -> Result<Inventory, Error> {
    inventory_in(clients, calls, Scope::default()).await
}

/// `inventory` limited to `scope`: stages at or before `after` are left out.
pub(crate) async fn inventory_in(
    clients: &Clients,
    calls: &mut CallLog,
    scope: Scope<'_>,
) -> Result<Inventory, Error> {
    let mut inv = Inventory::default();
    let mut http_apis = list_http_apis(clients, calls).await?;
    let mut rest_apis = list_rest_apis(clients, calls).await?;
    http_apis.sort();
    rest_apis.sort();
    let apis = http_apis
        .into_iter()
        .map(|api| (ApiType::Http, api))
        .chain(rest_apis.into_iter().map(|api| (ApiType::Rest, api)));
    for (api_type, (api_id, api_name)) in apis {
        if scope.done(api_type, &api_id) {
            continue;
        }
        if scope
            .max_stages
            .is_some_and(|max| inv.http.len() + inv.rest.len() >= max)
        {
            inv.truncated = true;
            break;
        }
        // Only this API's stages are new; of them, those an earlier chunk did are dropped.
        match api_type {
            ApiType::Http => {
                let from = inv.http.len();
                http_stages(clients, calls, &mut inv, api_id, api_name).await;
                keep_from(&mut inv.http, from, |s| {
                    scope.counts(api_type, &s.api_id, &s.stage)
                });
            }
            ApiType::Rest => {
                let from = inv.rest.len();
                rest_stages(clients, calls, &mut inv, api_id, api_name).await;
                keep_from(&mut inv.rest, from, |s| {
                    scope.counts(api_type, &s.api_id, &s.stage)
                });
            }
        }
    }
    Ok(inv)
}

/// Filter `v[from..]` with `keep`, leaving `v[..from]` as it is.
fn keep_from<T>(v: &mut Vec<T>, from: usize, keep: impl Fn(&T) -> bool) {
    let tail = v.split_off(from);
    v.extend(tail.into_iter().filter(|t| keep(t)));
}

async fn list_rest_apis(
    clients: &Clients,
    calls: &mut CallLog,
) -> Result<Vec<(String, String)>, Error> {
    let mut apis = Vec::new();
    let mut position: Option<String> = None;
    loop {
        let call = calls.record("apigateway", "GetRestApis", "");
        let page = clients
            .apigateway
            .get_rest_apis()
            .set_position(position.clone())
            .limit(500)
            .send()
            .await
            .map_err(|e| Error::aws(&call, e))?;
        for api in page.items() {
            if let Some(id) = api.id() {
                apis.push((id.to_string(), api.name().unwrap_or_default().to_string()));
            }
        }
        // moto repeats the same position forever on its last page; a repeated token ends too.
        match page.position() {
            Some(p) if !p.is_empty() && Some(p) != position.as_deref() => {
                position = Some(p.to_string())
            }
            _ => break,
        }
    }
    Ok(apis)
}

async fn rest_stages(
    clients: &Clients,
    calls: &mut CallLog,
    inv: &mut Inventory,
    api_id: String,
    api_name: String,
) {
    {
        let call = calls.record("apigateway", "GetStages", &format!("restapis/{api_id}"));
        match clients
            .apigateway
            .get_stages()
            .rest_api_id(&api_id)
            .send()
            .await
        {
            Ok(out) => {
                for s in out.item() {
                    let Some(stage) = s.stage_name() else {
                        continue;
                    };
                    let setting = s.method_settings().and_then(|m| m.get(ALL_METHODS));
                    let all_methods = setting
                        .map(|m| plan::rest_logging(m.logging_level(), m.data_trace_enabled()));
                    let tag = |key: &str| s.tags().and_then(|t| t.get(key)).cloned();
                    inv.rest.push(RestStage {
                        api_id: api_id.clone(),
                        api_name: api_name.clone(),
                        stage: stage.to_string(),
                        all_methods,
                        all_methods_other: setting.map(|m| other_fields(m).fingerprint()),
                        previous_tag: tag(PREVIOUS_LOGGING_TAG),
                        added_setting_tag: tag(ADDED_SETTING_TAG),
                        delivery_tag: tag(LOG_DELIVERY_TAG),
                    });
                }
            }
            Err(e) => inv.errors.push(Error::aws(&call, e)),
        }
    }
}

async fn list_http_apis(
    clients: &Clients,
    calls: &mut CallLog,
) -> Result<Vec<(String, String)>, Error> {
    let mut apis = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let call = calls.record("apigatewayv2", "GetApis", "");
        let page = clients
            .apigatewayv2
            .get_apis()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| Error::aws(&call, e))?;
        for api in page.items() {
            // WebSocket APIs log differently (no request/response model): not captured.
            if api.protocol_type() != Some(&ProtocolType::Http) {
                continue;
            }
            if let Some(id) = api.api_id() {
                apis.push((id.to_string(), api.name().unwrap_or_default().to_string()));
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(apis)
}

async fn http_stages(
    clients: &Clients,
    calls: &mut CallLog,
    inv: &mut Inventory,
    api_id: String,
    api_name: String,
) {
    {
        let mut token: Option<String> = None;
        loop {
            let call = calls.record("apigatewayv2", "GetStages", &format!("apis/{api_id}"));
            let page = match clients
                .apigatewayv2
                .get_stages()
                .api_id(&api_id)
                .set_next_token(token.clone())
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    inv.errors.push(Error::aws(&call, e));
                    break;
                }
            };
            for s in page.items() {
                let Some(stage) = s.stage_name() else {
                    continue;
                };
                let access_log = s.access_log_settings().and_then(|a| {
                    Some(AccessLog {
                        destination_arn: a.destination_arn().filter(|d| !d.is_empty())?.to_string(),
                        format: a.format().unwrap_or_default().to_string(),
                    })
                });
                inv.http.push(HttpStage {
                    api_id: api_id.clone(),
                    api_name: api_name.clone(),
                    stage: stage.to_string(),
                    access_log,
                    previous_tag: s.tags().and_then(|t| t.get(PREVIOUS_LOGGING_TAG)).cloned(),
                });
            }
            match page.next_token() {
                Some(t) if !t.is_empty() && Some(t) != token.as_deref() => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
    }
}

/// Whether the account's CloudWatch role is set (REST stages cannot log without it).
pub(crate) async fn account_role(
    clients: &Clients,
    calls: &mut CallLog,
) -> Result<Option<String>, Error> {
    let call = calls.record("apigateway", "GetAccount", "");
    let account = clients
        .apigateway
        .get_account()
        .send()
        .await
        .map_err(|e| Error::aws(&call, e))?;
    Ok(account
        .cloudwatch_role_arn()
        .filter(|r| !r.is_empty())
        .map(str::to_string))
}

/// Read-only status of every stage.
pub(crate) async fn discover(clients: &Clients) -> Result<Vec<StageStatus>, Error> {
    let mut calls = CallLog::default();
    let mut inv = inventory(clients, &mut calls).await?;
    if let Some(e) = inv.errors.drain(..).next() {
        return Err(e);
    }
    let role = if inv.rest.is_empty() {
        None
    } else {
        account_role(clients, &mut calls).await?
    };
    let mut out = Vec::with_capacity(inv.rest.len() + inv.http.len());
    for s in &inv.rest {
        out.push(rest_status(s, role.is_some()));
    }
    for s in &inv.http {
        out.push(http_status(s, true));
    }
    Ok(out)
}

/// An HTTP stage's status from its access logging. With `default_excluded` (discovery, which
/// knows no settings), an unlogged `$default` stage says it is out of scope rather than off.
pub(crate) fn http_status(s: &HttpStage, default_excluded: bool) -> StageStatus {
    let (captured, group, reason) = plan::http_status(s.access_log.as_ref(), &s.own_group());
    let reason = if default_excluded && !captured && s.is_default_stage() && s.access_log.is_none()
    {
        Some(plan::DEFAULT_STAGE_REASON.to_string())
    } else {
        reason
    };
    s.status(captured, group, reason)
}

/// A REST stage's status from its settings and whether the account can write its logs.
pub(crate) fn rest_status(stage: &RestStage, has_role: bool) -> StageStatus {
    if !has_role {
        return stage.status(false, Some(plan::NO_ROLE_REASON.to_string()));
    }
    if plan::is_rest_captured(stage.all_methods.as_ref()) {
        stage.status(true, None)
    } else {
        stage.status(false, Some(plan::REST_NOT_LOGGING_REASON.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_skips_only_apis_whose_every_stage_key_is_done() {
        let scope = Scope {
            after: Some("rest/b/s5"),
            max_stages: None,
        };
        // Every HTTP key sorts before every REST key, and API `a` before `b`.
        assert!(scope.done(ApiType::Http, "zzz"));
        assert!(scope.done(ApiType::Rest, "a"));
        // `b` still has stages after s5, and `ba`, `c` all of theirs.
        assert!(!scope.done(ApiType::Rest, "b"));
        assert!(!scope.done(ApiType::Rest, "ba"));
        assert!(!scope.done(ApiType::Rest, "c"));
        assert!(!scope.counts(ApiType::Rest, "b", "s5"));
        assert!(scope.counts(ApiType::Rest, "b", "s6"));
        let all = Scope::default();
        assert!(!all.done(ApiType::Http, "a") && all.counts(ApiType::Http, "a", "x"));
    }
}
