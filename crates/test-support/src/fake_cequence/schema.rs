//! The UAP Edge transaction schema (docs/contract.md, "The Edge's side"), checked the way the Edge refuses a batch: the
//! first malformed transaction and field are named in the 400 answer.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError {
    /// Dotted path of the offending field, e.g. `request.body.length`.
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> SchemaError {
    SchemaError {
        field: field.to_string(),
        message: message.into(),
    }
}

fn string<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a str, SchemaError> {
    v.get(key)
        .ok_or_else(|| err(&format!("{path}{key}"), "missing"))?
        .as_str()
        .ok_or_else(|| err(&format!("{path}{key}"), "must be a string"))
}

fn object<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a Value, SchemaError> {
    let o = v
        .get(key)
        .ok_or_else(|| err(&format!("{path}{key}"), "missing"))?;
    if o.is_object() {
        Ok(o)
    } else {
        Err(err(&format!("{path}{key}"), "must be an object"))
    }
}

fn port(v: &Value, key: &str, path: &str) -> Result<(), SchemaError> {
    match v.get(key).and_then(Value::as_u64) {
        Some(p) if p <= 65_535 => Ok(()),
        _ => Err(err(
            &format!("{path}{key}"),
            "must be an integer port 0..65535",
        )),
    }
}

fn headers(v: &Value, path: &str) -> Result<(), SchemaError> {
    let field = format!("{path}headers");
    let list = v
        .get("headers")
        .and_then(Value::as_array)
        .ok_or_else(|| err(&field, "must be an array"))?;
    for (i, h) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let h = h.as_str().ok_or_else(|| err(&f, "must be a string"))?;
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| err(&f, "must be name:<base64 value>"))?;
        if name.is_empty() {
            return Err(err(&f, "empty header name"));
        }
        STANDARD
            .decode(value)
            .map_err(|_| err(&f, "header value is not base64"))?;
    }
    Ok(())
}

fn body(v: &Value, path: &str) -> Result<(), SchemaError> {
    let b = object(v, "body", path)?;
    let path = format!("{path}body.");
    let length = b
        .get("length")
        .and_then(Value::as_u64)
        .ok_or_else(|| err(&format!("{path}length"), "must be a non-negative integer"))?;
    let data = string(b, "data", &path)?;
    let decoded = STANDARD
        .decode(data)
        .map_err(|_| err(&format!("{path}data"), "is not base64"))?;
    if decoded.len() as u64 != length {
        return Err(err(
            &format!("{path}length"),
            format!("says {length} but data holds {} bytes", decoded.len()),
        ));
    }
    Ok(())
}

/// Check one transaction; the first problem found.
pub fn check(t: &Value) -> Result<(), SchemaError> {
    if !t.is_object() {
        return Err(err("", "a transaction must be an object"));
    }
    let ts = string(t, "timestamp", "")?;
    let valid_ts = match ts.split_once('.') {
        Some((s, ms)) => {
            !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit())
                && !ms.is_empty()
                && ms.len() <= 6
                && ms.bytes().all(|b| b.is_ascii_digit())
        }
        None => !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit()),
    };
    if !valid_ts {
        return Err(err(
            "timestamp",
            "must be epoch seconds as a string (ms as decimals)",
        ));
    }
    if string(t, "version", "")?.is_empty() {
        return Err(err("version", "empty"));
    }
    let id = string(t, "transaction-id", "")?;
    if id.is_empty() || id.len() > 256 {
        return Err(err("transaction-id", "must be 1..256 characters"));
    }

    let req = object(t, "request", "")?;
    string(req, "client-ip", "request.")?;
    let scheme = string(req, "http-scheme", "request.")?;
    if scheme != "http" && scheme != "https" {
        return Err(err("request.http-scheme", "must be http or https"));
    }
    if !string(req, "http-version", "request.")?.starts_with("HTTP/") {
        return Err(err("request.http-version", "must look like HTTP/1.1"));
    }
    let method = string(req, "http-method", "request.")?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(err("request.http-method", "must be an upper-case method"));
    }
    if !string(req, "uri-query-fragment", "request.")?.starts_with('/') {
        return Err(err("request.uri-query-fragment", "must start with /"));
    }
    string(req, "host", "request.")?;
    headers(req, "request.")?;
    body(req, "request.")?;
    let conn = object(req, "connection", "request.")?;
    string(conn, "connection-ip", "request.connection.")?;
    port(conn, "connection-port", "request.connection.")?;
    string(conn, "server-ip", "request.connection.")?;
    port(conn, "server-port", "request.connection.")?;

    let resp = object(t, "response", "")?;
    let status = string(resp, "status-code", "response.")?;
    if status.is_empty() || status.len() > 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            "response.status-code",
            "must be a status code as a string",
        ));
    }
    headers(resp, "response.")?;
    body(resp, "response.")?;

    let meta = object(t, "txn-meta-data", "")?;
    object(meta, "source_info", "txn-meta-data.")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn valid() -> Value {
        json!({
            "timestamp": "1700000000.123",
            "version": "1.0",
            "transaction-id": "abc",
            "request": {
                "client-ip": "203.0.113.7", "http-scheme": "https", "http-version": "HTTP/1.1",
                "http-method": "GET", "uri-query-fragment": "/pets?q=1", "host": "h",
                "headers": ["accept:YXBwbGljYXRpb24vanNvbg=="],
                "body": {"length": 2, "data": "e30="},
                "connection": {"connection-ip": "203.0.113.7", "connection-port": 0, "server-ip": "", "server-port": 443}
            },
            "response": {"status-code": "200", "headers": [], "body": {"length": 0, "data": ""}},
            "txn-meta-data": {"source_info": {"source": "aws-apigateway"}}
        })
    }

    #[test]
    fn a_valid_transaction_passes() {
        assert_eq!(check(&valid()), Ok(()));
    }

    #[test]
    fn each_malformed_field_is_named() {
        type Break = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Break)> = vec![
            (
                "timestamp",
                Box::new(|t| t["timestamp"] = json!(1700000000)),
            ),
            (
                "transaction-id",
                Box::new(|t| t["transaction-id"] = json!("")),
            ),
            (
                "request.http-scheme",
                Box::new(|t| t["request"]["http-scheme"] = json!("ftp")),
            ),
            (
                "request.headers[0]",
                Box::new(|t| t["request"]["headers"] = json!(["x:%%"])),
            ),
            (
                "request.body.length",
                Box::new(|t| t["request"]["body"]["length"] = json!(9)),
            ),
            (
                "request.connection.server-port",
                Box::new(|t| t["request"]["connection"]["server-port"] = json!("443")),
            ),
            (
                "response.status-code",
                Box::new(|t| t["response"]["status-code"] = json!(200)),
            ),
            (
                "txn-meta-data",
                Box::new(|t| {
                    t.as_object_mut()
                        .unwrap()
                        .remove("txn-meta-data")
                        .map(|_| ())
                        .unwrap()
                }),
            ),
        ];
        for (field, break_it) in cases {
            let mut t = valid();
            break_it(&mut t);
            assert_eq!(check(&t).unwrap_err().field, field);
        }
    }
}
