//! Plain HTTP/1.1 on 127.0.0.1 for the fakes: a server (`server`), the framing it and the fault
//! proxy share (`wire`), and a blocking client for the test bed's own calls (`client`).

pub mod client;
pub mod server;
pub mod wire;

pub use server::{serve, serve_listener, BoxFuture, Handler, Request, Response};
