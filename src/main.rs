//! `cq-apigw`: parse the command line, set up logging, load the configuration, run the
//! command, and turn its outcome into an exit code (0 ok, 1 failed, 2 usage/configuration).

use std::process::ExitCode;

use clap::Parser;

use cq_apigw::cli::{Cli, Command};
use cq_apigw::config::{self, CommandKind};
use cq_apigw::error::Error;
use cq_apigw::{commands, output};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    output::init_colors(cli.global.no_color);
    init_tracing(&cli);
    match run(&cli).await {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(cli: &Cli) -> cq_apigw::error::Result<ExitCode> {
    // The flags become plain values here, once; nothing below sees clap.
    let session = cli.global.session();
    let env_file = cli.global.env_file.as_deref();
    let load = |regions: Option<&str>, kind| config::load(env_file, regions, kind);
    match &cli.command {
        Command::Enable(args) => {
            let config = load(args.regions.as_deref(), CommandKind::Enable)?;
            commands::enable::run(&session, &args.options(), config).await
        }
        Command::Disable(args) => {
            let config = load(args.regions.as_deref(), CommandKind::Disable)?;
            commands::disable::run(&session, &args.options(), config).await
        }
        Command::Status(args) => {
            let config = load(args.regions.as_deref(), CommandKind::Status)?;
            commands::status::run(&session, args.output, config).await
        }
        Command::Doctor(args) => {
            let config = load(args.regions.as_deref(), CommandKind::Doctor)?;
            commands::doctor::run(&session, args.output, config).await
        }
        // Neither reads the configuration: they work on a machine with no `.env` or AWS access.
        Command::Completions(args) => commands::shell::completions(args.shell),
        Command::Man(args) => commands::shell::man(args.out_dir.as_deref()),
    }
}

/// Logs go to stderr; `RUST_LOG` overrides the `-v`/`-q` levels. Timestamps only when
/// verbose, where timing matters.
fn init_tracing(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let g = &cli.global;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(output::log_filter(g.verbose, g.quiet)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::colors_enabled())
        .with_target(g.verbose > 1);
    if g.verbose > 0 {
        builder.init();
    } else {
        builder.without_time().init();
    }
}

/// Print the error once, then whatever its causes add that the message does not already say.
fn report(e: &Error) {
    let label = console::style("error:").red().bold().for_stderr();
    let message = e.to_string();
    eprintln!("{label} {message}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            eprintln!("  caused by: {text}");
        }
        source = cause.source();
    }
}
