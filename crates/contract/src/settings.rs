//! The settings whose values are words (`cequence_*` key, template parameter with
//! `AllowedValues`, forwarder variable): one enum each, parsed and written the same way on
//! every side.

use serde::Serialize;

/// The forwarder's log level (`cequence_lambda_log_level`, `LambdaLogLevel`, `LOG_LEVEL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The template's AllowedValues, in its order.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// Any case, surrounding spaces ignored; `warning` is `warn`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("warning") {
            return Some(LogLevel::Warn);
        }
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }
}

/// REST execution logs (`cequence_rest_log_delivery`, `CequenceRestLogDelivery`,
/// `CEQUENCE_REST_LOG_DELIVERY`, custom resource `RestLogDelivery`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestDelivery {
    /// API Gateway's own execution logging: events cut at 1 KB, bodies mostly truncated.
    Standard,
    /// A delivery per stage (events up to 1 MB); a stage where it cannot be made fails.
    Full,
    /// Full where the delivery APIs accept the stage, else standard, with the reason reported.
    #[default]
    Auto,
}

impl RestDelivery {
    pub const ALL: [RestDelivery; 3] = [Self::Standard, Self::Full, Self::Auto];

    /// Parses `standard`, `full` or `auto` (any case, surrounding spaces ignored; empty is the
    /// default, as CloudFormation passes an unset parameter).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "standard" => Some(Self::Standard),
            "full" => Some(Self::Full),
            "auto" | "" => Some(Self::Auto),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Full => "full",
            Self::Auto => "auto",
        }
    }
}

/// How a captured log group's events reach the forwarder (`cequence_ingestion`,
/// `CequenceIngestion`, `CEQUENCE_INGESTION`, custom resource `Ingestion`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestionMode {
    /// Every captured group is read with FilterLogEvents.
    Poll,
    /// Every captured group gets our subscription filter where a slot is free.
    Push,
    /// Polled while the region's FilterLogEvents quota keeps up; the forwarder pushes the
    /// groups it cannot keep up with.
    #[default]
    Auto,
}

impl IngestionMode {
    pub const ALL: [IngestionMode; 3] = [
        IngestionMode::Poll,
        IngestionMode::Push,
        IngestionMode::Auto,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IngestionMode::Poll => "poll",
            IngestionMode::Push => "push",
            IngestionMode::Auto => "auto",
        }
    }
}

impl std::fmt::Display for IngestionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for IngestionMode {
    type Err = String;

    /// `poll`, `push` or `auto`, any case, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        IngestionMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| "expected poll, push or auto".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_as_itself() {
        for l in LogLevel::ALL {
            assert_eq!(LogLevel::parse(&l.as_str().to_uppercase()), Some(l));
        }
        assert_eq!(LogLevel::parse(" Warning "), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse("verbose"), None);
        for d in RestDelivery::ALL {
            assert_eq!(RestDelivery::parse(d.as_str()), Some(d));
        }
        assert_eq!(RestDelivery::parse(""), Some(RestDelivery::Auto));
        assert_eq!(RestDelivery::parse("bodies"), None);
        for m in IngestionMode::ALL {
            assert_eq!(format!(" {m} ").parse::<IngestionMode>(), Ok(m));
        }
        assert!("stream".parse::<IngestionMode>().is_err());
    }
}
