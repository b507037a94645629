//! A server of the test bed on its own thread and tokio runtime, stopped when its owner drops.
//!
//! Each fake runs this way so it keeps serving while a test blocks on a child process or on its
//! own runtime, and so nothing outlives the test that started it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::runtime::Handle;

pub struct Background {
    addr: SocketAddr,
    handle: Handle,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Bind `127.0.0.1:port` (0 = any free port) and run `serve(listener)` on a new runtime of
    /// `workers` threads until dropped.
    pub fn start<F, Fut>(name: &str, port: u16, workers: usize, serve: F) -> std::io::Result<Self>
    where
        F: FnOnce(TcpListener) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers.max(1))
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener =
                        match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
                            Ok(l) => l,
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                return;
                            }
                        };
                    let addr = listener.local_addr();
                    let _ = ready_tx.send(addr.map(|a| (a, Handle::current())));
                    tokio::select! {
                        _ = serve(listener) => {}
                        _ = shutdown_rx => {}
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(1));
            })?;
        let (addr, handle) = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other(format!("{name} did not start")))??;
        Ok(Self {
            addr,
            handle,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's runtime, to spawn work that must live as long as the server.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
