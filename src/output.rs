//! What goes to the terminal besides progress: results on stdout (text or one JSON
//! document), notes on stderr, colour on/off, and the log filter for `-v`/`-q`.
//!
//! stdout carries only results so `--output json | jq` works; everything else goes to stderr.
//! A closed stdout (`| head`) surfaces as an `Error::Io` with `BrokenPipe`, which `main`
//! treats as success.

use std::fmt::Display;
use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::error::{Error, Result};

/// Decide colour once, for stdout and stderr alike: off with `--no-color`, with `NO_COLOR`
/// set (https://no-color.org), or when stderr is not a terminal.
pub fn init_colors(global: &GlobalArgs) {
    let on = colors_wanted(
        global.no_color,
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        std::io::stderr().is_terminal(),
    );
    console::set_colors_enabled(on);
    console::set_colors_enabled_stderr(on);
}

/// Whether colour is on (after [`init_colors`]).
pub fn colors_enabled() -> bool {
    console::colors_enabled_stderr()
}

pub fn colors_wanted(no_color_flag: bool, no_color_env: bool, stderr_is_tty: bool) -> bool {
    !no_color_flag && !no_color_env && stderr_is_tty
}

/// Progress (bars or plain lines) is shown unless `--quiet` or `--output json`.
pub fn progress_wanted(global: &GlobalArgs, format: OutputFormat) -> bool {
    !global.quiet && format == OutputFormat::Text
}

/// Print `value` as one pretty JSON document on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    write_json(&mut std::io::stdout().lock(), value)
}

pub fn write_json<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| {
        // serde_json wraps write failures; keep the io kind so a broken pipe is recognised.
        let kind = e.io_error_kind().unwrap_or(std::io::ErrorKind::InvalidData);
        Error::io("writing JSON to stdout", std::io::Error::new(kind, e))
    })?;
    writeln!(out)
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// Print a result in text on stdout (results are printed even with `--quiet`).
pub fn print_text(text: impl Display) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// Print a result in the chosen format: `Display` for text, `Serialize` for JSON.
pub fn print_result<T: Serialize + Display>(format: OutputFormat, value: &T) -> Result<()> {
    match format {
        OutputFormat::Text => print_text(value),
        OutputFormat::Json => print_json(value),
    }
}

/// An informational line on stderr, suppressed by `--quiet`.
pub fn note(global: &GlobalArgs, message: impl Display) {
    if !global.quiet {
        eprintln!("{message}");
    }
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::io("writing to stdout", e)
}

/// The `tracing` filter for `-v`/`-q` when `RUST_LOG` is not set. Our crates get one level
/// more than the AWS SDK, whose debug output is noisy.
pub fn log_filter(verbose: u8, quiet: bool) -> &'static str {
    if quiet {
        return "error";
    }
    match verbose {
        0 => "warn",
        1 => "warn,cq_apigw=info,cq_stage_logging=info",
        2 => "info,cq_apigw=debug,cq_stage_logging=debug",
        _ => "debug,cq_apigw=trace,cq_stage_logging=trace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_rules() {
        assert!(colors_wanted(false, false, true));
        assert!(!colors_wanted(true, false, true));
        assert!(!colors_wanted(false, true, true));
        assert!(!colors_wanted(false, false, false));
    }

    #[test]
    fn progress_rules() {
        let mut g = GlobalArgs::default();
        assert!(progress_wanted(&g, OutputFormat::Text));
        assert!(!progress_wanted(&g, OutputFormat::Json));
        g.quiet = true;
        assert!(!progress_wanted(&g, OutputFormat::Text));
    }

    #[test]
    fn json_is_one_document_with_a_newline() {
        let mut buf = Vec::new();
        write_json(&mut buf, &serde_json::json!({"a": 1})).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.ends_with("}\n"));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["a"], 1);
    }

    #[test]
    fn broken_pipe_while_writing_json_is_recognised() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let err = write_json(&mut Closed, &serde_json::json!([1, 2])).unwrap_err();
        assert!(err.is_broken_pipe(), "{err:?}");
    }

    #[test]
    fn log_filters_parse() {
        for (v, q) in [(0, false), (1, false), (2, false), (5, false), (0, true)] {
            let f = log_filter(v, q);
            tracing_subscriber::EnvFilter::try_new(f).unwrap();
        }
        assert_eq!(log_filter(3, true), "error");
    }
}
