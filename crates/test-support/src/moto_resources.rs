//! The few resources the forwarder needs, created in moto over plain HTTP — no SDK, so the
//! benchmark binary builds without one. moto routes a request by the service named in the
//! SigV4 credential scope and does not check signatures, so a well-formed but unsigned
//! `Authorization` header is enough.

use std::time::Duration;

use serde_json::{json, Value};

use crate::http::client;

const TIMEOUT: Duration = Duration::from_secs(30);

fn auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"
    )
}

/// One awsJson call (`X-Amz-Target`) to `service` at `addr` (`host:port`).
pub fn aws_json(
    addr: &str,
    service: &str,
    target: &str,
    json_version: &str,
    body: &Value,
) -> Result<Value, String> {
    let auth = auth(service);
    let content_type = format!("application/x-amz-json-{json_version}");
    let resp = client::request(
        addr,
        "POST",
        "/",
        &[
            ("authorization", &auth),
            ("x-amz-target", target),
            ("x-amz-date", "20260101T000000Z"),
            ("content-type", &content_type),
        ],
        body.to_string().as_bytes(),
        TIMEOUT,
    )
    .map_err(|e| format!("{target}: {e}"))?;
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    if resp.status != 200 {
        return Err(format!("{target}: HTTP {} {text}", resp.status));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A DynamoDB table as the template creates it: key `pk` (S, HASH) + `sk` (S, RANGE),
/// on-demand, TTL on `expires_at`.
pub fn create_state_table(addr: &str, name: &str) -> Result<(), String> {
    aws_json(
        addr,
        "dynamodb",
        "DynamoDB_20120810.CreateTable",
        "1.0",
        &json!({
            "TableName": name,
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"}
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"}
            ],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )?;
    aws_json(
        addr,
        "dynamodb",
        "DynamoDB_20120810.UpdateTimeToLive",
        "1.0",
        &json!({
            "TableName": name,
            "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires_at"}
        }),
    )?;
    Ok(())
}

/// An S3 bucket (us-east-1, no location constraint).
pub fn create_bucket(addr: &str, name: &str) -> Result<(), String> {
    let auth = auth("s3");
    let resp = client::request(
        addr,
        "PUT",
        &format!("/{name}"),
        &[
            ("authorization", &auth),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        b"",
        TIMEOUT,
    )
    .map_err(|e| format!("CreateBucket: {e}"))?;
    if resp.status != 200 {
        return Err(format!(
            "CreateBucket: HTTP {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        ));
    }
    Ok(())
}

/// Keys under `prefix` in `bucket` (ListObjectsV2, first 1,000).
pub fn list_objects(addr: &str, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
    let auth = auth("s3");
    let resp = client::request(
        addr,
        "GET",
        &format!("/{bucket}?list-type=2&prefix={prefix}"),
        &[
            ("authorization", &auth),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        b"",
        TIMEOUT,
    )
    .map_err(|e| format!("ListObjectsV2: {e}"))?;
    let text = String::from_utf8_lossy(&resp.body);
    Ok(text
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_string()))
        .collect())
}

/// A Secrets Manager secret; returns its ARN.
pub fn create_secret(addr: &str, name: &str, value: &str) -> Result<String, String> {
    let out = aws_json(
        addr,
        "secretsmanager",
        "secretsmanager.CreateSecret",
        "1.1",
        &json!({"Name": name, "SecretString": value}),
    )?;
    out.get("ARN")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("CreateSecret answered without an ARN: {out}"))
}

/// A new version of the secret (rotation).
pub fn put_secret_value(addr: &str, secret_id: &str, value: &str) -> Result<(), String> {
    aws_json(
        addr,
        "secretsmanager",
        "secretsmanager.PutSecretValue",
        "1.1",
        &json!({"SecretId": secret_id, "SecretString": value}),
    )
    .map(|_| ())
}

/// An SSM parameter (String or SecureString).
pub fn put_parameter(addr: &str, name: &str, value: &str, secure: bool) -> Result<(), String> {
    aws_json(
        addr,
        "ssm",
        "AmazonSSM.PutParameter",
        "1.1",
        &json!({
            "Name": name,
            "Value": value,
            "Type": if secure { "SecureString" } else { "String" },
            "Overwrite": true
        }),
    )
    .map(|_| ())
}

/// An SSM parameter's value, if it exists.
pub fn get_parameter(addr: &str, name: &str) -> Option<String> {
    aws_json(
        addr,
        "ssm",
        "AmazonSSM.GetParameter",
        "1.1",
        &json!({"Name": name, "WithDecryption": true}),
    )
    .ok()?
    .pointer("/Parameter/Value")?
    .as_str()
    .map(str::to_string)
}
