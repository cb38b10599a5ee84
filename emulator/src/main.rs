//! `sonar-emulator --scenario FILE`: the emulator as a standalone server.

use clap::{Parser, Subcommand};
use sonar_emulator::{start_on, Bind, EmulatorConfig, FaultRule, Scenario, TestPki, TlsFiles};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "sonar-emulator",
    version,
    about = "A small server that answers like SonarQube Server and SonarQube Cloud.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Scenario file (YAML, or JSON by extension): organizations, projects, tokens, faults
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// The web listener's port (0: any free port)
    #[arg(long, default_value_t = 0)]
    web_port: u16,
    /// Cloud only: the API listener's port (0: any free port)
    #[arg(long, default_value_t = 0)]
    api_port: u16,
    /// Latency added to every response, in milliseconds
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// A fault rule in YAML or JSON, added to the scenario's; repeatable. E.g.
    /// '{path: /api/analysis_cache/get, status: 503, retry_after: 1, times: 2}',
    /// '{path: "*", listener: api, reset: true}', '{path: "*", slow_body_ms: 2000}'
    #[arg(long = "fault", value_name = "RULE", value_parser = FaultRule::parse)]
    faults: Vec<FaultRule>,
    /// Answer 429 (Retry-After: 1) past this many requests per second of the emulator's clock
    /// (replaces the scenario's `throttle`)
    #[arg(long, value_name = "N")]
    throttle: Option<u32>,
    /// Serve HTTPS with this PEM certificate chain (see `sonar-emulator pki`)
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Append one JSON line per request to this file
    #[arg(long)]
    log_file: Option<PathBuf>,
    /// Write the listener lines here once listening (for scripts to wait on)
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Write a private test CA and a server certificate for localhost, 127.0.0.1 and ::1:
    /// ca.pem, server.pem, server-key.pem
    Pki {
        #[arg(long)]
        out: PathBuf,
        /// More host names or addresses for the server certificate (localhost, 127.0.0.1
        /// and ::1 are always in it); repeatable
        #[arg(long)]
        host: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Pki { out, host }) = cli.command {
        let hosts: Vec<&str> = host.iter().map(String::as_str).collect();
        let pki = TestPki::generate(&hosts)?;
        std::fs::create_dir_all(&out)?;
        std::fs::write(out.join("ca.pem"), &pki.ca_pem)?;
        std::fs::write(out.join("server.pem"), &pki.server_cert_pem)?;
        std::fs::write(out.join("server-key.pem"), &pki.server_key_pem)?;
        return Ok(());
    }
    let scenario_path = cli
        .scenario
        .ok_or_else(|| anyhow::anyhow!("--scenario FILE is required"))?;
    let mut scenario = Scenario::load(&scenario_path)?;
    if let Some(n) = cli.throttle {
        anyhow::ensure!(n >= 1, "--throttle must be at least 1");
        scenario.throttle = Some(sonar_emulator::scenario::Throttle {
            per_second: n,
            retry_after: 1,
        });
    }
    let tls = match (cli.tls_cert, cli.tls_key) {
        (Some(c), Some(k)) => Some(TlsFiles {
            cert_pem: std::fs::read_to_string(c)?,
            key_pem: std::fs::read_to_string(k)?,
        }),
        _ => None,
    };
    let summary = format!(
        "sonar-emulator: {:?}{} {}, {} project(s), {} token(s), {} fault rule(s), latency {} ms",
        scenario.flavor,
        scenario
            .region
            .map(|r| format!(" (region {})", r.code()))
            .unwrap_or_default(),
        scenario.server_version,
        scenario.projects.len(),
        scenario.tokens.len(),
        scenario.faults.len() + cli.faults.len(),
        cli.latency_ms,
    );
    let config = EmulatorConfig {
        scenario,
        tls,
        faults: cli.faults,
        latency_ms: cli.latency_ms,
    };
    let bind = Bind {
        web_port: cli.web_port,
        api_port: cli.api_port,
        log_file: cli.log_file,
    };
    let running = start_on(config, bind).await?;
    eprintln!("{summary}");
    // Server has one listener; its `api` line is the API base (web URL + /api/v2).
    let lines = format!("web {}\napi {}\n", running.web_url(), running.api_url());
    print!("{lines}");
    std::io::Write::flush(&mut std::io::stdout())?;
    if let Some(ready) = cli.ready_file {
        let tmp = ready.with_extension("tmp");
        std::fs::write(&tmp, &lines)?;
        std::fs::rename(tmp, ready)?;
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    running.shutdown().await;
    Ok(())
}
