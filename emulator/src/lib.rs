//! sonar-emulator: a small HTTP server that answers like SonarQube Server and SonarQube
//! Cloud (FACTS §2), with faults on demand and a log of what it received.
//!
//! It runs in-process in tests ([`start`], [`start_blocking`]) and standalone
//! (`sonar-emulator --scenario FILE`) for the README demo and the benchmarks. It is its own
//! crate so that none of its server dependencies reach the `scantoken` binary.

pub mod faults;
pub mod scenario;
pub mod server;
pub mod sonar;
pub mod tls;

pub use faults::{FaultRule, ListenerKind};
pub use scenario::Scenario;
pub use server::LoggedRequest;
pub use tls::{TestPki, TlsFiles};

use scenario::Flavor;
use server::Shared;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub scenario: Scenario,
    pub tls: Option<TlsFiles>,
    pub faults: Vec<FaultRule>,
    /// Added to every response.
    pub latency_ms: u64,
}

impl EmulatorConfig {
    pub fn new(scenario: Scenario) -> EmulatorConfig {
        EmulatorConfig {
            scenario,
            tls: None,
            faults: Vec::new(),
            latency_ms: 0,
        }
    }
}

/// Where to listen and where to write the log, for the standalone server.
#[derive(Debug, Clone, Default)]
pub struct Bind {
    pub web_port: u16,
    pub api_port: u16,
    pub log_file: Option<std::path::PathBuf>,
}

pub struct RunningEmulator {
    web_url: String,
    api_url: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

pub async fn start(config: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    start_on(config, Bind::default()).await
}

pub async fn start_on(config: EmulatorConfig, bind: Bind) -> anyhow::Result<RunningEmulator> {
    let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let mut faults = config.scenario.faults.clone();
    faults.extend(config.faults);
    let log_file = match &bind.log_file {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
        None => None,
    };
    let flavor = config.scenario.flavor;
    let shared = Arc::new(Shared::new(
        config.scenario,
        faults,
        config.latency_ms,
        log_file,
    ));
    let (stop, stopped) = watch::channel(false);

    let web = TcpListener::bind(("127.0.0.1", bind.web_port)).await?;
    let web_url = format!("{scheme}://127.0.0.1:{}", web.local_addr()?.port());
    tokio::spawn(server::serve(
        web,
        ListenerKind::Web,
        acceptor.clone(),
        shared.clone(),
        stopped.clone(),
    ));
    let api_url = match flavor {
        Flavor::Cloud => {
            let api = TcpListener::bind(("127.0.0.1", bind.api_port)).await?;
            let url = format!("{scheme}://127.0.0.1:{}", api.local_addr()?.port());
            tokio::spawn(server::serve(
                api,
                ListenerKind::Api,
                acceptor,
                shared.clone(),
                stopped,
            ));
            url
        }
        Flavor::Server => format!("{web_url}/api/v2"),
    };
    Ok(RunningEmulator {
        web_url,
        api_url,
        shared,
        stop,
    })
}

impl RunningEmulator {
    /// The web URL (`http://127.0.0.1:PORT`, https with TLS).
    pub fn web_url(&self) -> String {
        self.web_url.clone()
    }

    /// Cloud: the API host's URL; Server: the web URL plus `/api/v2`.
    pub fn api_url(&self) -> String {
        self.api_url.clone()
    }

    pub fn log(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    pub fn set_faults(&self, faults: Vec<FaultRule>) {
        *self.shared.faults.lock().unwrap() = faults::FaultState::new(faults);
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
    }
}

/// An emulator on its own thread and runtime, for tests that are not async. Dropping it
/// stops the server.
pub struct BlockingEmulator {
    inner: Option<RunningEmulator>,
    thread: Option<std::thread::JoinHandle<()>>,
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

pub fn start_blocking(config: EmulatorConfig) -> anyhow::Result<BlockingEmulator> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                let _ = ready_tx.send(Err(anyhow::anyhow!(e)));
                return;
            }
        };
        runtime.block_on(async move {
            let _ = ready_tx.send(start(config).await);
            let _ = done_rx.await;
        });
    });
    let running = ready_rx.recv()??;
    Ok(BlockingEmulator {
        inner: Some(running),
        thread: Some(thread),
        done: Some(done_tx),
    })
}

impl BlockingEmulator {
    fn running(&self) -> &RunningEmulator {
        self.inner.as_ref().expect("running until dropped")
    }

    pub fn web_url(&self) -> String {
        self.running().web_url()
    }

    pub fn api_url(&self) -> String {
        self.running().api_url()
    }

    pub fn log(&self) -> Vec<LoggedRequest> {
        self.running().log()
    }

    pub fn clear_log(&self) {
        self.running().clear_log()
    }

    pub fn set_faults(&self, faults: Vec<FaultRule>) {
        self.running().set_faults(faults)
    }
}

impl Drop for BlockingEmulator {
    fn drop(&mut self) {
        if let Some(running) = self.inner.take() {
            let _ = running.stop.send(true);
        }
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
