//! The forwarder's environment for a local run (names: `cq_contract::forwarder_env`, plus the
//! redesign's `CEQUENCE_CHECKPOINT_PARAMETER`), so one harness drives either build; each ignores what it does not know.
//! CloudWatch Logs goes to the stand-in (or a proxy in front of it), the other services to
//! moto (or a proxy in front of it), per service.

use cq_contract::forwarder_env as env;

use crate::moto::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};

#[derive(Clone, Debug)]
pub struct ForwarderEnv {
    /// moto, for every service without its own endpoint below.
    pub aws_endpoint: String,
    pub logs_endpoint: String,
    pub dynamodb_endpoint: Option<String>,
    pub s3_endpoint: Option<String>,
    pub ssm_endpoint: Option<String>,
    pub secrets_endpoint: Option<String>,
    pub auth_endpoint: String,
    pub edge_endpoint: String,
    pub client_id: String,
    pub secret_arn: String,
    pub token_parameter: String,
    pub checkpoint_parameter: String,
    pub state_table: String,
    pub spool_bucket: String,
    pub log_groups: Vec<String>,
    /// First-run look-back.
    pub fetch_interval_ms: i64,
    pub settle_lag_ms: Option<i64>,
    pub filter_log_events_tps: Option<f64>,
    pub pending_wait_ms: Option<i64>,
    pub deadline_margin_ms: Option<i64>,
    /// `poll`, `push` or `auto`.
    pub ingestion: String,
    pub log_level: String,
    pub region: String,
}

impl ForwarderEnv {
    /// Names that keep runs apart (SSM parameters, table, bucket) get `prefix`.
    pub fn new(prefix: &str, aws_endpoint: &str, logs_endpoint: &str) -> Self {
        Self {
            aws_endpoint: aws_endpoint.to_string(),
            logs_endpoint: logs_endpoint.to_string(),
            dynamodb_endpoint: None,
            s3_endpoint: None,
            ssm_endpoint: None,
            secrets_endpoint: None,
            auth_endpoint: String::new(),
            edge_endpoint: String::new(),
            client_id: "test-client".into(),
            secret_arn: String::new(),
            token_parameter: format!("/cequence/apigw/{prefix}/token"),
            checkpoint_parameter: format!("/cequence/apigw/{prefix}/checkpoints"),
            state_table: format!("cequence-{prefix}-state"),
            spool_bucket: format!("cequence-{prefix}-spool"),
            log_groups: Vec::new(),
            fetch_interval_ms: 15 * 60_000,
            settle_lag_ms: None,
            filter_log_events_tps: None,
            pending_wait_ms: None,
            deadline_margin_ms: None,
            ingestion: "poll".into(),
            log_level: "info".into(),
            region: "us-east-1".into(),
        }
    }

    pub fn vars(&self) -> Vec<(String, String)> {
        let mut v: Vec<(&str, String)> = vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("AWS_ENDPOINT_URL", self.aws_endpoint.clone()),
            (
                "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
                self.logs_endpoint.clone(),
            ),
            (env::AUTH_ENDPOINT, self.auth_endpoint.clone()),
            (env::EDGE_ENDPOINT, self.edge_endpoint.clone()),
            (env::CLIENT_ID, self.client_id.clone()),
            (env::CLIENT_SECRET_ARN, self.secret_arn.clone()),
            (env::TOKEN_PARAMETER, self.token_parameter.clone()),
            (
                "CEQUENCE_CHECKPOINT_PARAMETER",
                self.checkpoint_parameter.clone(),
            ),
            (env::STATE_TABLE, self.state_table.clone()),
            (env::SPOOL_BUCKET, self.spool_bucket.clone()),
            (env::INGESTION, self.ingestion.clone()),
            (env::PUSH_DESTINATION, "lambda".into()),
            (env::LOG_GROUPS, self.log_groups.join(",")),
            (
                "CEQUENCE_FETCH_INTERVAL_MS",
                self.fetch_interval_ms.to_string(),
            ),
            (env::REST_API_ENABLED, "true".into()),
            (env::HTTP_API_ENABLED, "true".into()),
            (env::LOG_LEVEL, self.log_level.clone()),
        ];
        for (k, value) in [
            ("AWS_ENDPOINT_URL_DYNAMODB", &self.dynamodb_endpoint),
            ("AWS_ENDPOINT_URL_S3", &self.s3_endpoint),
            ("AWS_ENDPOINT_URL_SSM", &self.ssm_endpoint),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &self.secrets_endpoint),
        ] {
            if let Some(e) = value {
                v.push((k, e.clone()));
            }
        }
        if let Some(x) = self.settle_lag_ms {
            v.push((env::SETTLE_LAG_MS, x.to_string()));
        }
        if let Some(x) = self.filter_log_events_tps {
            v.push((env::FILTER_LOG_EVENTS_TPS, format!("{x}")));
        }
        if let Some(x) = self.pending_wait_ms {
            v.push((env::PENDING_WAIT_MS, x.to_string()));
        }
        if let Some(x) = self.deadline_margin_ms {
            v.push((env::DEADLINE_MARGIN_MS, x.to_string()));
        }
        v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_an_endpoint_and_both_forwarders_are_configured() {
        let mut e = ForwarderEnv::new("t1", "http://127.0.0.1:1", "http://127.0.0.1:2");
        e.ssm_endpoint = Some("http://127.0.0.1:3".into());
        e.settle_lag_ms = Some(3_000);
        let vars = e.vars();
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(get("AWS_ENDPOINT_URL_SSM"), Some("http://127.0.0.1:3"));
        assert_eq!(get("CEQUENCE_SETTLE_LAG_MS"), Some("3000"));
        assert_eq!(get("CEQUENCE_STATE_TABLE"), Some("cequence-t1-state"));
        assert_eq!(
            get("CEQUENCE_CHECKPOINT_PARAMETER"),
            Some("/cequence/apigw/t1/checkpoints")
        );
        assert!(
            get("CEQUENCE_CLIENT_SECRET").is_none(),
            "never the plain secret"
        );
    }
}
