//! sonar-emulator: a small HTTP server that answers like SonarQube Server and SonarQube
//! Cloud (as emulator/README.md describes, with its sources), with faults on demand and a log of what it received.
//!
//! It runs in-process in tests ([`start`], [`start_blocking`]) and standalone
//! (`sonar-emulator --scenario FILE`) for the README demo and the benchmarks. It is its own
//! crate so that none of its server dependencies reach the `scantoken` binary.
//!
//! ```no_run
//! use sonar_emulator::{start_blocking, EmulatorConfig, FaultRule, Scenario};
//! let scenario = Scenario::from_yaml_str(
//!     "flavor: server\nprojects: [{key: k}]\ntokens: [{value: t, kind: global-analysis}]",
//! )?;
//! let sonar = start_blocking(EmulatorConfig::new(scenario))?;
//! sonar.set_faults(vec![FaultRule::status("*", 503, Some(1), Some(2))]);
//! println!("{} {}", sonar.web_url(), sonar.api_url());
//! # anyhow::Ok(())
//! ```

pub mod bootstrap;
mod delay;
pub mod faults;
pub mod scenario;
pub mod server;
pub mod sonar;
pub mod tls;

pub use faults::{FaultRule, ListenerKind};
pub use scenario::Scenario;
pub use server::{fingerprint, LoggedRequest};
pub use tls::{TestPki, TlsFiles};

use scenario::Flavor;
use server::{Listener, Shared};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub scenario: Scenario,
    /// Serve HTTPS on every listener with this certificate chain and key.
    pub tls: Option<TlsFiles>,
    /// Added after the scenario's own `faults`.
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

    pub fn with_tls(mut self, tls: TlsFiles) -> EmulatorConfig {
        self.tls = Some(tls);
        self
    }

    pub fn with_faults(mut self, faults: Vec<FaultRule>) -> EmulatorConfig {
        self.faults = faults;
        self
    }

    pub fn with_latency_ms(mut self, ms: u64) -> EmulatorConfig {
        self.latency_ms = ms;
        self
    }
}

/// Where to listen and where to write the log, for the standalone server.
#[derive(Debug, Clone, Default)]
pub struct Bind {
    /// 0: any free port.
    pub web_port: u16,
    /// Cloud only; 0: any free port.
    pub api_port: u16,
    /// Append one JSON line per request.
    pub log_file: Option<std::path::PathBuf>,
}

pub struct RunningEmulator {
    web_url: String,
    api_url: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
}

/// Starts the emulator on 127.0.0.1, a free port per listener (Cloud has two: web and API).
pub async fn start(config: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    start_on(config, Bind::default()).await
}

/// [`start`] on chosen ports, optionally logging to a file.
pub async fn start_on(config: EmulatorConfig, bind: Bind) -> anyhow::Result<RunningEmulator> {
    config.scenario.validate()?;
    for rule in &config.faults {
        rule.validate()?;
    }
    let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let mut faults = config.scenario.faults.clone();
    faults.extend(config.faults);
    let log_file = match &bind.log_file {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
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

    let mut bound = vec![(ListenerKind::Web, bind.web_port)];
    if flavor == Flavor::Cloud {
        bound.push((ListenerKind::Api, bind.api_port));
    }
    let mut urls = Vec::new();
    let mut listeners = Vec::new();
    for (kind, port) in bound {
        let socket = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let url = format!("{scheme}://127.0.0.1:{}", socket.local_addr()?.port());
        let this = Listener {
            kind,
            tls: acceptor.clone(),
            url: url.clone(),
        };
        listeners.push(tokio::spawn(server::serve(
            socket,
            this,
            shared.clone(),
            stopped.clone(),
        )));
        urls.push(url);
    }
    let web_url = urls[0].clone();
    let api_url = match flavor {
        Flavor::Cloud => urls[1].clone(),
        Flavor::Server => format!("{web_url}/api/v2"),
    };
    Ok(RunningEmulator {
        web_url,
        api_url,
        shared,
        stop,
        listeners,
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

    /// Every request so far, in the order they were answered.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Replaces every fault rule (the scenario's included), with fresh `times` counts.
    pub fn set_faults(&self, faults: Vec<FaultRule>) {
        *self.shared.faults.lock().unwrap() = faults::FaultState::new(faults);
    }

    /// Deletes a project: every later answer treats it as never created. False when the
    /// scenario has no such project (or it is already deleted).
    pub fn delete_project(&self, key: &str) -> bool {
        self.shared.scenario.delete_project(key)
    }

    /// Stops listening and closes every open connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for l in self.listeners {
            let _ = l.await;
        }
    }
}

/// An emulator on its own thread and runtime, for tests that are not async. Dropping it
/// stops the server.
pub struct BlockingEmulator {
    inner: Option<RunningEmulator>,
    thread: Option<std::thread::JoinHandle<()>>,
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

/// [`start`] on a thread of its own with its own tokio runtime.
pub fn start_blocking(config: EmulatorConfig) -> anyhow::Result<BlockingEmulator> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("sonar-emulator".into())
        .spawn(move || {
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
        })?;
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

    pub fn delete_project(&self, key: &str) -> bool {
        self.running().delete_project(key)
    }

    /// Stops the server (the same as dropping it).
    pub fn shutdown(self) {}
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
