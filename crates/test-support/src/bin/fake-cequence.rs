//! `fake-cequence [--port N] [--record FILE] [--client-id ID] [--client-secret S]
//! [--token-lifetime SECS] [--reject-gzip]` — the fake Cequence auth + Edge server for the
//! demo. Prints `PORT=<port>` and the two endpoint URLs, then serves until killed.
//! `GET /_received` returns the counts; `POST /_control` injects failures.

use std::time::Duration;

use cq_test_support::fake_cequence::{FakeCequence, FakeConfig};

fn main() {
    let mut config = FakeConfig::default();
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--port" => {
                port = value("--port")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --port"))
            }
            "--record" => config.record_file = Some(value("--record").into()),
            "--client-id" => config.client_id = value("--client-id"),
            "--client-secret" => config.client_secret = value("--client-secret"),
            "--token-lifetime" => {
                let secs = value("--token-lifetime")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --token-lifetime"));
                config.token_lifetime = Duration::from_secs(secs);
            }
            "--reject-gzip" => config.reject_gzip = true,
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let fake = FakeCequence::start_with(config, port);
    println!("PORT={}", fake.port());
    println!("AUTH_ENDPOINT={}", fake.auth_endpoint());
    println!("EDGE_ENDPOINT={}", fake.edge_endpoint());
    loop {
        std::thread::park();
    }
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("fake-cequence: {msg}");
    }
    eprintln!(
        "usage: fake-cequence [--port N] [--record FILE] [--client-id ID] [--client-secret S] [--token-lifetime SECS] [--reject-gzip]"
    );
    std::process::exit(2)
}
