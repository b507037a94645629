//! REST execution-log records written by a CloudWatch Logs *delivery*, turned back into the
//! `(<requestId>) <text>` lines that standard execution logging writes.
//!
//! Why: standard REST execution logging cuts every event at 1,024 bytes (`... [TRUNCATED]`).
//! Since 2026-09 API Gateway can instead deliver a stage's execution logs (delivery source
//! log type `EXECUTION_LOGS` on the stage ARN) with events of up to 1 MB, and we point that
//! delivery at the stage's usual group `API-Gateway-Execution-Logs_{restApiId}/{stage}` (same
//! group, other stream names), so the forwarder reads the same groups, by polling or push.
//! The delivery destination writes either
//! * `plain`: the same `(<requestId>) <text>` lines, only not cut at 1 KB. Nothing to do.
//! * `json`: one JSON object per event with the line in a message field. AWS does not
//!   document the record's fields, so several spellings are accepted (`MESSAGE_FIELDS`,
//!   `REQUEST_ID_FIELDS`), and the message may be the whole line or only `<text>` with the
//!   request id in a field of its own. Other fields are ignored.
//!
//! `unwrap_record` gives the line inside such a record, and leaves every other event exactly
//! as it is: an event starting with `{` that is not such an object (a body continuation that
//! happens to start with a brace, a logged JSON document) is not a delivered record, and
//! neither is an object whose message does not lead to a request line.
//!
//! It is meant for REST execution-log groups only (HTTP access-log groups carry JSON lines of
//! their own); the REST assembler applies it to every event it is fed, which is where the
//! events of a REST group enter the pipeline on the poll and push paths alike.
//!
//! Cost: the forwarder handles about four million events a minute. A standard line starts
//! with `(` and is handed back untouched (the same borrowed or owned text, no copy, no
//! parse); only an event whose first byte is `{` pays for a JSON parse.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;

use super::rest::split_request_id;

/// Field names that may hold the line (or its text), in order of preference: the first one
/// present as a string is the message.
pub const MESSAGE_FIELDS: [&str; 4] = ["message", "msg", "log", "payload"];

/// Field names that may hold the request id when the message is only `<text>`, in order of
/// preference.
pub const REQUEST_ID_FIELDS: [&str; 4] = ["requestId", "request_id", "requestID", "awsRequestId"];

/// The request line inside a delivered `json` record, or `message` itself when it is not one
/// (standard and `plain` lines above all, which come back as they went in).
#[inline]
pub fn unwrap_record(message: Cow<'_, str>) -> Cow<'_, str> {
    // The test every event pays, kept where the caller can inline it.
    if message.as_bytes().first() != Some(&b'{') {
        return message;
    }
    match record_line(&message) {
        Some(line) => Cow::Owned(line),
        None => message,
    }
}

/// The `(<requestId>) <text>` line a delivered `json` record carries; `None` for anything
/// else. Only a message whose first byte is `{` is parsed.
pub fn record_line(message: &str) -> Option<String> {
    if message.as_bytes().first() != Some(&b'{') {
        return None;
    }
    // Not an object, more than one, a repeated known field: not a record.
    let record: Record<'_> = serde_json::from_str(message).ok()?;
    let text = record.message()?;
    let own_id = split_request_id(&text).map(|(id, _)| id);
    if let Some(id) = record.request_id() {
        // Unless the message is the whole line of that request already, the id goes in front.
        if own_id != Some(id.as_ref()) {
            if let Some(line) = with_request_id(&id, &text) {
                return Some(line);
            }
        }
    }
    let is_a_line = own_id.is_some();
    is_a_line.then(|| text.into_owned())
}

/// `(<id>) <text>`, if the id survives the split (non-empty, no whitespace or parentheses,
/// not too long).
fn with_request_id(id: &str, text: &str) -> Option<String> {
    let mut line = String::with_capacity(id.len() + 3 + text.len());
    line.push('(');
    line.push_str(id);
    line.push_str(") ");
    line.push_str(text);
    split_request_id(&line)
        .is_some_and(|(i, _)| i == id)
        .then_some(line)
}

/// The fields of a record that matter; the others are skipped unread. Strings borrow from
/// the event where they hold no escapes.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    message: Option<Field<'a>>,
    #[serde(borrow)]
    msg: Option<Field<'a>>,
    #[serde(borrow)]
    log: Option<Field<'a>>,
    #[serde(borrow)]
    payload: Option<Field<'a>>,
    #[serde(rename = "requestId", borrow)]
    request_id_camel: Option<Field<'a>>,
    #[serde(rename = "request_id", borrow)]
    request_id_snake: Option<Field<'a>>,
    #[serde(rename = "requestID", borrow)]
    request_id_upper: Option<Field<'a>>,
    #[serde(rename = "awsRequestId", borrow)]
    aws_request_id: Option<Field<'a>>,
}

impl<'a> Record<'a> {
    /// In `MESSAGE_FIELDS` order.
    fn message(&self) -> Option<Cow<'a, str>> {
        first_string([&self.message, &self.msg, &self.log, &self.payload])
    }

    /// In `REQUEST_ID_FIELDS` order.
    fn request_id(&self) -> Option<Cow<'a, str>> {
        first_string([
            &self.request_id_camel,
            &self.request_id_snake,
            &self.request_id_upper,
            &self.aws_request_id,
        ])
    }
}

fn first_string<'a>(fields: [&Option<Field<'a>>; 4]) -> Option<Cow<'a, str>> {
    fields.into_iter().find_map(|f| match f {
        Some(Field::Str(s)) => Some(s.clone()),
        _ => None,
    })
}

/// A field's value: a string, or anything else (a number, an object...), which does not make
/// the record unreadable but does not count as that field either.
enum Field<'a> {
    Str(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FieldVisitor<'a> {
    type Value = Field<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Field::deserialize(d)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| Field::Other)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_map(map).map(|_| Field::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "3f1c7e9a-0d4b-4b39-9a8e-1f2d3c4b5a69";

    fn unwrap(message: &str) -> String {
        unwrap_record(Cow::Borrowed(message)).into_owned()
    }

    #[test]
    fn a_json_record_with_the_whole_line_gives_the_line() {
        let line = format!("({ID}) Method request body before transformations: {{\"a\":[1,2]}}");
        let record = json!({
            "message": line,
            "timestamp": 1_700_000_000_000_i64,
            "logStream": "delivery-1",
            "nested": {"message": "not this one"},
        })
        .to_string();
        assert_eq!(unwrap(&record), line);
        // The other spellings of the message field.
        for field in MESSAGE_FIELDS {
            let record = json!({ field: line }).to_string();
            assert_eq!(unwrap(&record), line, "{field}");
        }
        // `message` comes first.
        let record = json!({"msg": "(other) x", "message": line}).to_string();
        assert_eq!(unwrap(&record), line);
        // A request id field that agrees with the line changes nothing.
        let record = json!({"requestId": ID, "message": line}).to_string();
        assert_eq!(unwrap(&record), line);
        // Trailing whitespace (a newline CloudWatch kept) is fine.
        let record = format!("{}\n", json!({ "message": line }));
        assert_eq!(unwrap(&record), line);
    }

    #[test]
    fn a_json_record_with_text_and_a_separate_request_id_gives_the_line() {
        let text = "Method completed with status: 200";
        let expected = format!("({ID}) {text}");
        for field in REQUEST_ID_FIELDS {
            let record = json!({ "message": text, field: ID, "level": "INFO" }).to_string();
            assert_eq!(unwrap(&record), expected, "{field}");
        }
        for field in MESSAGE_FIELDS {
            let record = json!({ field: text, "requestId": ID }).to_string();
            assert_eq!(unwrap(&record), expected, "{field}");
        }
        // `requestId` comes first; a non-string candidate is passed over.
        let record =
            json!({"awsRequestId": "lambda-id", "requestId": ID, "request_id": 7, "message": text})
                .to_string();
        assert_eq!(unwrap(&record), expected);
        // A body continuation that itself starts with a brace, escapes and all.
        let record = json!({"message": "  \"name\": \"rex\"}", "requestId": ID}).to_string();
        assert_eq!(unwrap(&record), format!("({ID})   \"name\": \"rex\"}}"));
        // The request id field wins over a text that looks like another request's line.
        let record = json!({"message": "(x) y", "requestId": ID}).to_string();
        assert_eq!(unwrap(&record), format!("({ID}) (x) y"));
        // An id that could not stand in a line is no id: a whole line is still taken.
        let record = json!({"message": format!("({ID}) {text}"), "requestId": "a b"}).to_string();
        assert_eq!(unwrap(&record), expected);
    }

    #[test]
    fn a_json_object_without_a_request_line_is_left_alone() {
        let cases = [
            // No message field at all (a logged JSON document).
            json!({"requestId": ID, "status": 200}).to_string(),
            json!({}).to_string(),
            // A message that is not a request line, and no request id.
            json!({"message": "Method completed with status: 200"}).to_string(),
            // A message that is not a string.
            json!({"message": {"text": "x"}, "requestId": ID}).to_string(),
            json!({"message": null, "requestId": ID}).to_string(),
            // An id that cannot stand in a line, and a text that is not one.
            json!({"message": "x", "requestId": "a b"}).to_string(),
            json!({"message": "x", "requestId": ""}).to_string(),
            // The same field twice is not a record we can read unambiguously.
            format!(r#"{{"message":"({ID}) a","message":"({ID}) b"}}"#),
            // Two objects, or trailing text.
            format!(r#"{{"message":"({ID}) a"}} {{"message":"({ID}) b"}}"#),
        ];
        for message in cases {
            let out = unwrap_record(Cow::Borrowed(&message));
            assert!(
                matches!(out, Cow::Borrowed(s) if std::ptr::eq(s, message.as_str())),
                "{message}"
            );
            assert_eq!(record_line(&message), None, "{message}");
        }
    }

    #[test]
    fn a_pretty_printed_body_continuation_is_left_alone() {
        // What standard execution logging writes for a pretty-printed body over several
        // events, and the pieces of it.
        for message in [
            "{",
            "{\n  \"message\": \"(r1) x\",",
            "{\"message\": \"(r1) Method completed with status: 200\",",
            "{ \"items\": [1, 2,",
            "{\"message\":\"hello\"}",
            "{{",
            "{\"message\":\"(r1) x\"",
        ] {
            let out = unwrap_record(Cow::Borrowed(message));
            assert!(
                matches!(out, Cow::Borrowed(s) if std::ptr::eq(s, message)),
                "{message:?}"
            );
        }
    }

    #[test]
    fn plain_lines_pass_through_without_a_copy() {
        let line = format!("({ID}) Method request body before transformations: {{\"a\":1}}");
        // Borrowed in, the same bytes borrowed out.
        let out = unwrap_record(Cow::Borrowed(&line));
        assert!(matches!(out, Cow::Borrowed(s) if std::ptr::eq(s, line.as_str())));
        // Owned in, the same allocation out.
        let owned = line.clone();
        let ptr = owned.as_ptr();
        match unwrap_record(Cow::Owned(owned)) {
            Cow::Owned(s) => assert_eq!((s.as_ptr(), s.as_str()), (ptr, line.as_str())),
            Cow::Borrowed(_) => panic!("an owned message must come back owned"),
        }
        // A plain `delivered` line is longer than 1 KB and not cut: still itself.
        let big = format!(
            "({ID}) Method request body before transformations: {}",
            "x".repeat(200_000)
        );
        assert!(matches!(
            unwrap_record(Cow::Borrowed(&big)),
            Cow::Borrowed(s) if std::ptr::eq(s, big.as_str())
        ));
        // Other non-brace events are not parsed either.
        for message in ["", "garbage", " {\"message\":\"(r1) x\"}", "[1]"] {
            assert_eq!(record_line(message), None, "{message:?}");
        }
    }

    /// Deterministic records and near-records built from fragments: never a panic, and
    /// whatever comes out is a request line (and only from an event starting with `{`).
    #[test]
    fn never_panics_and_yields_only_request_lines() {
        let keys = [
            "message",
            "msg",
            "log",
            "payload",
            "requestId",
            "request_id",
            "requestID",
            "awsRequestId",
            "level",
            "Message",
        ];
        let values = [
            "\"(r1) x\"",
            "\"(r1) Method completed with status: 200\"",
            "\"x\"",
            "\"r1\"",
            "\"a b\"",
            "\"\"",
            "\"(r1)\"",
            "\"((r1) x\"",
            "\"(r1 x\"",
            "\"\\u00e9\\\"\"",
            "\"\\ud800\"",
            "1",
            "null",
            "{}",
            "[\"(r1) x\"]",
            "{\"message\":\"(r1) x\"}",
        ];
        let garbage = ["{", "}", ",", ":", "\"", " ", "é", "\\"];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut unwrapped = 0;
        for _ in 0..20_000 {
            let mut m = String::from("{");
            for i in 0..next(4) {
                if i > 0 {
                    m.push(',');
                }
                m.push_str(&format!(
                    "\"{}\":{}",
                    keys[next(keys.len())],
                    values[next(values.len())]
                ));
            }
            m.push('}');
            // Now and then a broken one.
            if next(4) == 0 {
                let at = m
                    .char_indices()
                    .nth(next(m.chars().count()))
                    .map_or(0, |(i, _)| i);
                m.insert_str(at, garbage[next(garbage.len())]);
            }
            let out = unwrap_record(Cow::Borrowed(&m));
            if let Cow::Owned(line) = out {
                assert!(split_request_id(&line).is_some(), "{m:?} -> {line:?}");
                unwrapped += 1;
            }
        }
        assert!(unwrapped > 1_000, "{unwrapped}");
    }
}
