//! `scantoken-bench`: runs the release `scantoken export` on a pull-request context against
//! the Sonar emulator with an injected latency per response, over plain http and over TLS
//! (the emulator serving a certificate from its test CA, which scantoken trusts through
//! `--ca-file`), and prints, per configuration, the median (min–max) of wall time, user+sys
//! CPU, peak RSS, requests sent, connections opened and sequential round trips; then the
//! targets of issue 6 (connect + TLS measured directly, start-up time, binary and release
//! asset sizes, the ratio against a straightforward sequential client, the Azure wrapper's
//! overhead), and every run's own values.
//!
//! The sequential client sends the same probes one after another, each over a fresh
//! connection: in-process over plain http, and with `curl` over TLS (no session reuse), whose
//! `time_appconnect` is also the direct measure of "connect + TLS" to the emulator.
//!
//! Usage: `scripts/bench.sh [--runs N]` (builds the release binary first), or
//! `scantoken-bench [--runs N] [--target LABEL] [BINARY]`.

use sonar_emulator::{
    start_blocking, BlockingEmulator, EmulatorConfig, ListenerKind, LoggedRequest, Scenario,
    TestPki,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "sqco_BENCHbenchBENCHbenchBENCHbenchBENCHbenchBENCHbenchBENCHbench";
const DEFAULT_RUNS: usize = 15;
const LATENCIES: [u64; 2] = [0, 50];
/// The issue's bound on the export's wall time beyond connect + TLS, as a multiple of L.
const LATENCY_FACTOR: f64 = 1.3;

fn scenario() -> Scenario {
    Scenario::from_yaml_str(&format!(
        "flavor: cloud\norganizations: [acme]\nprojects: [{{key: acme_payments, organization: acme}}]\n\
         tokens: [{{value: \"{TOKEN}\", kind: sot, organization: acme, projects: [acme_payments]}}]\n"
    ))
    .expect("a valid scenario")
}

mod fleet;
mod fleet_server;
mod projects;

struct Args {
    binary: PathBuf,
    runs: usize,
    target: String,
    /// `--fleet`: `scantoken audit` at fleet size (bench/src/fleet.rs) instead.
    fleet: bool,
    /// `--fleet-server`: the fleet read from the server, shards and merge (bench/src/fleet_server.rs).
    fleet_server: bool,
    /// `--projects`: `scantoken verify --projects auto` over a 50-project monorepo (bench/src/projects.rs).
    projects: bool,
}

fn parse_args(root: &Path) -> anyhow::Result<Args> {
    let mut binary = None;
    let mut runs = DEFAULT_RUNS;
    let mut target = "host build".to_owned();
    let mut fleet = false;
    let mut fleet_server = false;
    let mut projects = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                let n = args.next().unwrap_or_default();
                runs = n
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--runs wants a number, not {n:?}"))?;
                anyhow::ensure!(runs >= 1, "--runs must be at least 1");
            }
            "--target" => {
                target = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--target wants a label"))?
            }
            "--fleet" => fleet = true,
            "--fleet-server" => fleet_server = true,
            "--projects" => projects = true,
            "-h" | "--help" => {
                println!("usage: scantoken-bench [--fleet | --fleet-server | --projects] [--runs N] [--target LABEL] [BINARY]");
                std::process::exit(0);
            }
            other if other.starts_with('-') => anyhow::bail!("unknown option {other}"),
            other => binary = Some(PathBuf::from(other)),
        }
    }
    Ok(Args {
        binary: binary.unwrap_or_else(|| root.join("target/release/scantoken")),
        runs,
        target,
        fleet,
        fleet_server,
        projects,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn label(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn sequential_client(self) -> &'static str {
        match self {
            Scheme::Http => "sequential client",
            Scheme::Https => "sequential client (curl)",
        }
    }
}

/// What the emulator's log says about one client run.
#[derive(Clone, Copy)]
struct Traffic {
    requests: usize,
    connections: usize,
    waves: usize,
}

fn traffic(log: &[LoggedRequest]) -> Traffic {
    let mut ids: Vec<u64> = log.iter().map(|r| r.connection).collect();
    ids.sort_unstable();
    ids.dedup();
    Traffic {
        requests: log.len(),
        connections: ids.len(),
        waves: waves(log),
    }
}

/// Median (min–max) of one count over runs.
fn count(runs: impl Iterator<Item = Traffic>, field: fn(&Traffic) -> usize) -> String {
    show(&stats(runs.map(|t| field(&t) as f64).collect()), "", 0)
}

/// Sequential round trips: the longest chain of requests each sent after an answer to the
/// one before it arrived. Concurrent probes make one wave.
fn waves(log: &[LoggedRequest]) -> usize {
    let mut sorted: Vec<&LoggedRequest> = log.iter().collect();
    sorted.sort_by_key(|r| r.received_us);
    let mut wave: Vec<usize> = Vec::new();
    for (i, r) in sorted.iter().enumerate() {
        let before = (0..i)
            .filter(|&j| sorted[j].responded_us <= r.received_us)
            .map(|j| wave[j])
            .max()
            .unwrap_or(0);
        wave.push(before + 1);
    }
    wave.into_iter().max().unwrap_or(0)
}

/// One measured `scantoken export`.
struct ExportRun {
    wall_ms: f64,
    cpu_ms: f64,
    rss_mb: f64,
    traffic: Traffic,
}

/// One run of the sequential client.
struct SequentialRun {
    wall_ms: f64,
    traffic: Traffic,
    /// Per fresh connection: TCP connect (http), or TCP connect + TLS handshake (https).
    connect_ms: Vec<f64>,
}

/// One configuration: a scheme and a latency, with its runs in order.
struct Configuration {
    scheme: Scheme,
    latency: u64,
    exports: Vec<ExportRun>,
    sequential: Vec<SequentialRun>,
}

impl Configuration {
    fn name(&self) -> String {
        format!("{}, L = {} ms", self.scheme.label(), self.latency)
    }

    fn export_wall(&self) -> Stats {
        stats(self.exports.iter().map(|r| r.wall_ms).collect())
    }

    fn cpu(&self) -> Stats {
        stats(self.exports.iter().map(|r| r.cpu_ms).collect())
    }

    fn rss(&self) -> Stats {
        stats(self.exports.iter().map(|r| r.rss_mb).collect())
    }

    fn sequential_wall(&self) -> Stats {
        stats(self.sequential.iter().map(|r| r.wall_ms).collect())
    }

    /// Sequential client ÷ scantoken, each run against the sequential run right after it.
    fn ratio(&self) -> Stats {
        stats(
            self.exports
                .iter()
                .zip(&self.sequential)
                .map(|(e, s)| s.wall_ms / e.wall_ms)
                .collect(),
        )
    }

    fn connect(&self) -> Stats {
        stats(
            self.sequential
                .iter()
                .flat_map(|s| s.connect_ms.iter().copied())
                .collect(),
        )
    }
}

/// Spawns a command and waits for it with `wait4`, for its own CPU time and peak RSS.
/// Standard error goes to `stderr` (shown when the command fails); standard output nowhere.
fn measure(cmd: &mut Command, stderr: &Path) -> anyhow::Result<(Duration, Duration, i64, bool)> {
    measure_to(cmd.stdout(Stdio::null()), stderr)
}

/// [`measure`], standard output where `cmd` already sends it.
fn measure_to(cmd: &mut Command, stderr: &Path) -> anyhow::Result<(Duration, Duration, i64, bool)> {
    let err = std::fs::File::create(stderr)?;
    let start = Instant::now();
    let child = cmd.stderr(err).spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child; status and usage point to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    anyhow::ensure!(r == pid, "wait4 failed");
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((
        wall,
        tv(usage.ru_utime) + tv(usage.ru_stime),
        usage.ru_maxrss,
        ok,
    ))
}

fn ensure_ok(ok: bool, what: &str, stderr: &Path) -> anyhow::Result<()> {
    if !ok {
        let text = std::fs::read_to_string(stderr).unwrap_or_default();
        anyhow::bail!("{what} failed:\n{text}");
    }
    Ok(())
}

fn export_command(binary: &Path, web: &str, api: &str, ca: Option<&Path>, dir: &Path) -> Command {
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        r#"{"number":42,"pull_request":{"number":42,"head":{"ref":"feature/login","sha":"1111111111111111111111111111111111111111","repo":{"full_name":"acme/payments"}},"base":{"ref":"main","sha":"2222222222222222222222222222222222222222","repo":{"full_name":"acme/payments"}},"user":{"login":"octocat"}},"repository":{"full_name":"acme/payments","default_branch":"main"}}"#,
    )
    .expect("temp dir is writable");
    for file in ["env", "output", "summary"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    let mut cmd = Command::new(binary);
    cmd.arg("export");
    // The CA is given as the action's `ca-file` input would be. SSL_CERT_FILE stays unset:
    // it would also replace the platform's roots, which a real run loads.
    if let Some(ca) = ca {
        cmd.arg("--ca-file").arg(ca);
    }
    cmd.env_clear()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_REF", "refs/pull/42/merge")
        .env("GITHUB_SHA", "3333333333333333333333333333333333333333")
        .env("GITHUB_REPOSITORY", "acme/payments")
        .env("GITHUB_ENV", dir.join("env"))
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary"))
        .env("SONAR_TOKEN", TOKEN)
        .env("SONAR_ORGANIZATION", "acme")
        .env("INPUT_PROJECT_KEY", "acme_payments")
        .env("SONAR_SCANNER_SONARCLOUD_URL", web)
        .env("SONAR_SCANNER_API_BASE_URL", api)
        .current_dir(dir);
    cmd
}

/// Where a logged request was sent: its listener's base URL, and path?query.
fn request_target<'a>(r: &LoggedRequest, web: &'a str, api: &'a str) -> (&'a str, String) {
    let base = if r.listener == ListenerKind::Api {
        api
    } else {
        web
    };
    let target = if r.query.is_empty() {
        r.path.clone()
    } else {
        format!("{}?{}", r.path, r.query)
    };
    (base, target)
}

/// The baseline over plain http: each probe of a scantoken run, one after another, each on a
/// new connection, in-process. Returns the wall time and each TCP connect's time.
fn sequential_http(
    probes: &[LoggedRequest],
    web: &str,
    api: &str,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let mut connects = Vec::new();
    let start = Instant::now();
    for r in probes {
        let (base, target) = request_target(r, web, api);
        let host = base.trim_start_matches("http://");
        let connect = Instant::now();
        let mut stream = TcpStream::connect(host)?;
        connects.push(connect.elapsed().as_secs_f64() * 1000.0);
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes())?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        anyhow::ensure!(answer.starts_with(b"HTTP/1.1 "), "no HTTP answer");
    }
    Ok((start.elapsed().as_secs_f64() * 1000.0, connects))
}

/// The baseline over TLS: the same probes, one after another, with `curl` over HTTP/1.1, each
/// on a fresh connection (`Connection: close`) with a full handshake (`--no-sessionid`).
/// Returns the sum of the transfers' `time_total` (curl's own start-up left out, as the
/// in-process client has none) and each transfer's `time_appconnect`: TCP connect + TLS
/// handshake, measured by the client.
fn sequential_https(
    probes: &[LoggedRequest],
    web: &str,
    api: &str,
    ca: &Path,
    stderr: &Path,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let mut cmd = Command::new("curl");
    cmd.arg("-q")
        .args(["--silent", "--show-error", "--globoff", "--http1.1"])
        .args(["--no-sessionid", "--noproxy", "*", "--cacert"])
        .arg(ca)
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["-H", "Accept: application/json", "-H", "Connection: close"])
        .args([
            "--write-out",
            "%{http_code} %{time_appconnect} %{time_total}\\n",
        ]);
    for r in probes {
        let (base, target) = request_target(r, web, api);
        cmd.args(["--output", "/dev/null"])
            .arg(format!("{base}{target}"));
    }
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    let out = cmd
        .stderr(std::fs::File::create(stderr)?)
        .output()
        .map_err(|e| anyhow::anyhow!("curl: {e} (the TLS baseline needs curl)"))?;
    ensure_ok(
        out.status.success(),
        "curl (the TLS sequential client)",
        stderr,
    )?;
    let (mut total, mut connects) = (0.0, Vec::new());
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        anyhow::ensure!(
            fields.len() == 3 && fields[0] != "000",
            "unexpected curl --write-out line {line:?}"
        );
        let secs = |s: &str| -> anyhow::Result<f64> {
            Ok(s.parse::<f64>()
                .map_err(|_| anyhow::anyhow!("curl time {s:?}"))?
                * 1000.0)
        };
        connects.push(secs(fields[1])?);
        total += secs(fields[2])?;
    }
    anyhow::ensure!(
        connects.len() == probes.len(),
        "curl made {} transfers, not {}",
        connects.len(),
        probes.len()
    );
    Ok((total, connects))
}

/// Every run of one configuration: an export, then the sequential client on the same probes.
fn run_configuration(
    scheme: Scheme,
    latency: u64,
    pki: &TestPki,
    ca: &Path,
    binary: &Path,
    runs: usize,
    dir: &Path,
) -> anyhow::Result<Configuration> {
    let mut config = EmulatorConfig::new(scenario()).with_latency_ms(latency);
    if scheme == Scheme::Https {
        config = config.with_tls(pki.server_files());
    }
    let emulator: BlockingEmulator = start_blocking(config)?;
    let (web, api) = (emulator.web_url(), emulator.api_url());
    let ca = (scheme == Scheme::Https).then_some(ca);
    let stderr = dir.join("stderr");
    let mut result = Configuration {
        scheme,
        latency,
        exports: Vec::new(),
        sequential: Vec::new(),
    };
    for _ in 0..runs {
        emulator.clear_log();
        let (wall, cpu, rss, ok) =
            measure(&mut export_command(binary, &web, &api, ca, dir), &stderr)?;
        ensure_ok(ok, "scantoken export against the emulator", &stderr)?;
        let probes = emulator.log();
        result.exports.push(ExportRun {
            wall_ms: wall.as_secs_f64() * 1000.0,
            cpu_ms: cpu.as_secs_f64() * 1000.0,
            rss_mb: rss as f64 / 1024.0,
            traffic: traffic(&probes),
        });
        emulator.clear_log();
        let (wall_ms, connect_ms) = match ca {
            None => sequential_http(&probes, &web, &api)?,
            Some(ca) => sequential_https(&probes, &web, &api, ca, &stderr)?,
        };
        result.sequential.push(SequentialRun {
            wall_ms,
            traffic: traffic(&emulator.log()),
            connect_ms,
        });
    }
    Ok(result)
}

/// The Azure task as the agent runs it (`node index.js` in the assembled task folder, which
/// starts the bundled binary) against the binary run directly, both on an Azure build's
/// variables against the emulator. Per run: (binary alone, wrapper), wall ms.
fn wrapper_overhead(
    root: &Path,
    binary: &Path,
    runs: usize,
    dir: &Path,
) -> anyhow::Result<Option<Vec<(f64, f64)>>> {
    if Command::new("node").arg("--version").output().is_err() {
        return Ok(None);
    }
    let task = dir.join("task");
    let bin = task.join("bin/linux-x64");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy(root.join("task.json"), task.join("task.json"))?;
    std::fs::copy(root.join("azure/index.js"), task.join("index.js"))?;
    std::fs::copy(binary, bin.join("scantoken"))?;
    let emulator = start_blocking(EmulatorConfig::new(scenario()))?;
    let azure = |cmd: &mut Command| {
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TF_BUILD", "True")
            .env("BUILD_SOURCEBRANCH", "refs/heads/feature/login")
            .env(
                "BUILD_SOURCEVERSION",
                "1111111111111111111111111111111111111111",
            )
            .env("BUILD_REPOSITORY_NAME", "acme/payments")
            .env("INPUT_TOKEN", TOKEN)
            .env("INPUT_ORGANIZATION", "acme")
            .env("INPUT_PROJECTKEY", "acme_payments")
            .env("SONAR_SCANNER_SONARCLOUD_URL", emulator.web_url())
            .env("SONAR_SCANNER_API_BASE_URL", emulator.api_url())
            .current_dir(&task);
    };
    let stderr = dir.join("stderr");
    let mut pairs = Vec::new();
    for _ in 0..runs {
        let mut direct = Command::new(bin.join("scantoken"));
        direct.args(["export", "--format", "azure"]);
        azure(&mut direct);
        let (alone, _, _, ok) = measure(&mut direct, &stderr)?;
        ensure_ok(ok, "scantoken (Azure variables)", &stderr)?;
        let mut node = Command::new("node");
        node.arg(task.join("index.js"));
        azure(&mut node);
        let (wrapped, _, _, ok) = measure(&mut node, &stderr)?;
        ensure_ok(ok, "the task wrapper", &stderr)?;
        pairs.push((alone.as_secs_f64() * 1000.0, wrapped.as_secs_f64() * 1000.0));
    }
    Ok(Some(pairs))
}

/// The release asset as `.github/workflows/release.yml` makes it: `tar -czf` (gzip at its
/// default level) of a folder holding the binary as `scantoken`. Its size in bytes.
fn release_asset_size(binary: &Path, dir: &Path) -> anyhow::Result<u64> {
    let folder = dir.join("dist");
    std::fs::create_dir_all(&folder)?;
    std::fs::copy(binary, folder.join("scantoken"))?;
    let asset = dir.join("scantoken-bench-linux-x64.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&asset)
        .arg("-C")
        .arg(&folder)
        .arg("scantoken")
        .env_remove("GZIP")
        .status()?;
    anyhow::ensure!(status.success(), "tar -czf failed");
    Ok(std::fs::metadata(&asset)?.len())
}

struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(mut values: Vec<f64>) -> Stats {
    assert!(!values.is_empty(), "at least one run");
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    Stats {
        median,
        min: values[0],
        max: values[n - 1],
    }
}

/// `median unit (min–max)`; a unit of letters is set off by a space, `×` is not.
fn show(s: &Stats, unit: &str, digits: usize) -> String {
    let unit = if unit.is_empty() || unit == "×" {
        unit.to_owned()
    } else {
        format!(" {unit}")
    };
    format!(
        "{:.d$}{unit} ({:.d$}–{:.d$})",
        s.median,
        s.min,
        s.max,
        d = digits
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn list(values: impl Iterator<Item = f64>, digits: usize) -> String {
    values
        .map(|v| format!("{v:.digits$}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let args = parse_args(&root)?;
    let binary = args.binary.clone();
    anyhow::ensure!(
        binary.exists(),
        "{} not found: build it with cargo build --release",
        binary.display()
    );
    if args.fleet {
        return fleet::run(&binary, args.runs, &args.target);
    }
    if args.fleet_server {
        return fleet_server::run_all(&binary, &args.target);
    }
    if args.projects {
        return projects::run(&binary, args.runs, &args.target);
    }
    let runs = args.runs;
    let dir = std::env::temp_dir().join(format!("scantoken-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let pki = TestPki::generate(&[])?;
    let ca = dir.join("test-ca.pem");
    std::fs::write(&ca, &pki.ca_pem)?;

    println!(
        "Binary: `{}` ({}); {runs} runs per configuration.",
        binary.display(),
        args.target
    );
    println!();

    let mut configurations = Vec::new();
    for scheme in [Scheme::Http, Scheme::Https] {
        for latency in LATENCIES {
            eprintln!("scantoken-bench: {}, L = {latency} ms", scheme.label());
            configurations.push(run_configuration(
                scheme, latency, &pki, &ca, &binary, runs, &dir,
            )?);
        }
    }

    eprintln!("scantoken-bench: --version, sizes, Azure wrapper");
    let stderr = dir.join("stderr");
    let mut version = Vec::new();
    for _ in 0..2 * runs {
        let (wall, _, _, ok) = measure(Command::new(&binary).arg("--version"), &stderr)?;
        ensure_ok(ok, "scantoken --version", &stderr)?;
        version.push(wall.as_secs_f64() * 1000.0);
    }
    let size = std::fs::metadata(&binary)?.len() as f64 / 1_000_000.0;
    let asset = release_asset_size(&binary, &dir)? as f64 / 1_000_000.0;
    let wrapper = wrapper_overhead(&root, &binary, runs, &dir)?;

    // The summary table.
    println!(
        "| configuration | wall | user+sys CPU | peak RSS | requests | connections | round trips |"
    );
    println!("|---|---|---|---|---|---|---|");
    for c in &configurations {
        let e = || c.exports.iter().map(|r| r.traffic);
        let s = || c.sequential.iter().map(|r| r.traffic);
        println!(
            "| export, {} | {} | {} | {} | {} | {} | {} |",
            c.name(),
            show(&c.export_wall(), "ms", 1),
            show(&c.cpu(), "ms", 1),
            show(&c.rss(), "MB", 1),
            count(e(), |t| t.requests),
            count(e(), |t| t.connections),
            count(e(), |t| t.waves),
        );
        println!(
            "| {}, {} | {} | | | {} | {} | {} |",
            c.scheme.sequential_client(),
            c.name(),
            show(&c.sequential_wall(), "ms", 1),
            count(s(), |t| t.requests),
            count(s(), |t| t.connections),
            count(s(), |t| t.waves),
        );
    }
    let version_stats = stats(version.clone());
    println!(
        "| `scantoken --version` | {} | | | | | |",
        show(&version_stats, "ms", 2)
    );
    println!();

    // The targets.
    let find = |scheme: Scheme, latency: u64| {
        configurations
            .iter()
            .find(|c| c.scheme == scheme && c.latency == latency)
            .expect("every configuration ran")
    };
    let (http0, http50) = (find(Scheme::Http, 0), find(Scheme::Http, 50));
    let (tls0, tls50) = (find(Scheme::Https, 0), find(Scheme::Https, 50));
    let slack = LATENCY_FACTOR * http50.latency as f64;
    println!("| figure | value | target | |");
    println!("|---|---|---|---|");
    let connect = http50.connect();
    let handshake = tls50.connect();
    println!(
        "| connect, plain http (TCP connect from the harness, per connection) | {} | | |",
        show(&connect, "ms", 2)
    );
    println!(
        "| connect + TLS (curl's time_appconnect to the emulator, full handshake, per connection) | {} | | |",
        show(&handshake, "ms", 2)
    );
    println!(
        "| export wall at L = 0 ms, http (local cost: start-up, context, exports) | {:.1} ms | | |",
        http0.export_wall().median
    );
    println!(
        "| export wall at L = 0 ms, https (local cost + connect + TLS) | {:.1} ms | | |",
        tls0.export_wall().median
    );
    for (c, base, what) in [
        (tls50, handshake.median, "connect + TLS"),
        (http50, connect.median, "connect"),
    ] {
        let wall = c.export_wall();
        let bound = base + slack;
        println!(
            "| export wall at L = 50 ms, {} (worst run {:.1} ms) | {:.1} ms | ≤ {what} + 1.3 × L = {base:.2} + {slack:.0} = {bound:.1} ms | {} |",
            c.scheme.label(),
            wall.max,
            wall.median,
            verdict(wall.median <= bound)
        );
    }
    for (c0, c50) in [(tls0, tls50), (http0, http50)] {
        let d = c50.export_wall().median - c0.export_wall().median;
        println!(
            "| export wall at L = 50 ms minus L = 0 ms, {} (L = 0 as the upper bound of the local cost and connect{}) | {d:.1} ms | ≤ 1.3 × L = {slack:.0} ms | {} |",
            c0.scheme.label(),
            if c0.scheme == Scheme::Https { " + TLS" } else { "" },
            verdict(d <= slack)
        );
    }
    for c in [http50, tls50] {
        let worst = c.exports.iter().map(|r| r.traffic.waves).max().unwrap_or(0);
        println!(
            "| sequential round trips at L = 50 ms, {} (worst run) | {worst} | 1 | {} |",
            c.scheme.label(),
            verdict(worst == 1)
        );
    }
    let worst_cpu = configurations
        .iter()
        .max_by(|a, b| a.cpu().median.total_cmp(&b.cpu().median))
        .expect("every configuration ran");
    let (cpu_config, cpu) = (worst_cpu.name(), worst_cpu.cpu().median);
    println!(
        "| user+sys CPU of an export (median, worst configuration: {cpu_config}) | {cpu:.1} ms | ≤ 20 ms | {} |",
        verdict(cpu <= 20.0)
    );
    println!(
        "| CPU that TLS adds (https − http export, medians at L = 0 ms) | {:.1} ms | | |",
        tls0.cpu().median - http0.cpu().median
    );
    let rss = configurations
        .iter()
        .flat_map(|c| c.exports.iter().map(|r| r.rss_mb))
        .fold(0.0, f64::max);
    println!(
        "| peak RSS (worst run) | {rss:.1} MB | ≤ 20 MB | {} |",
        verdict(rss <= 20.0)
    );
    println!(
        "| `--version` (median) | {:.2} ms | ≤ 5 ms | {} |",
        version_stats.median,
        verdict(version_stats.median <= 5.0)
    );
    println!(
        "| release binary, stripped ({}) | {size:.2} MB | ≤ 6 MB | {} |",
        args.target,
        verdict(size <= 6.0)
    );
    println!(
        "| compressed asset (`tar -czf`, default level, as release.yml) | {asset:.2} MB | ≤ 3 MB | {} |",
        verdict(asset <= 3.0)
    );
    for c in [http50, tls50] {
        let ratio = c.ratio();
        println!(
            "| {} ÷ scantoken, wall at L = 50 ms, {} (per-run ratios) | {} | ≥ 2.5× | {} |",
            c.scheme.sequential_client(),
            c.scheme.label(),
            show(&ratio, "×", 2),
            verdict(ratio.median >= 2.5)
        );
    }
    for c in [http0, tls0] {
        println!(
            "| {} ÷ scantoken, wall at L = 0 ms, {} (per-run ratios) | {} | | |",
            c.scheme.sequential_client(),
            c.scheme.label(),
            show(&c.ratio(), "×", 2)
        );
    }
    match &wrapper {
        Some(pairs) => {
            let alone = stats(pairs.iter().map(|p| p.0).collect());
            let wrapped = stats(pairs.iter().map(|p| p.1).collect());
            println!(
                "| Azure wrapper overhead (node index.js + binary − binary alone, L = 0 ms) | {:.1} ms ({} vs {}) | ≤ 80 ms | {} |",
                wrapped.median - alone.median,
                show(&wrapped, "ms", 1),
                show(&alone, "ms", 1),
                verdict(wrapped.median - alone.median <= 80.0)
            );
        }
        None => println!("| Azure wrapper overhead | n/a (node not found) | ≤ 80 ms | |"),
    }

    // Every run's own values.
    println!();
    println!("Per-run values (in run order; each export is followed by the sequential client on the same probes):");
    for c in &configurations {
        println!();
        println!("{}:", c.name());
        println!();
        println!(
            "| run | export wall ms | CPU ms | RSS MB | requests | connections | round trips | sequential wall ms | seq. requests | seq. connections | seq. round trips | ratio | {} ms |",
            match c.scheme {
                Scheme::Http => "connect",
                Scheme::Https => "connect + TLS",
            }
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (i, (e, s)) in c.exports.iter().zip(&c.sequential).enumerate() {
            println!(
                "| {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {:.1} | {} | {} | {} | {:.2}× | {} |",
                i + 1,
                e.wall_ms,
                e.cpu_ms,
                e.rss_mb,
                e.traffic.requests,
                e.traffic.connections,
                e.traffic.waves,
                s.wall_ms,
                s.traffic.requests,
                s.traffic.connections,
                s.traffic.waves,
                s.wall_ms / e.wall_ms,
                list(s.connect_ms.iter().copied(), 2)
            );
        }
    }
    println!();
    println!(
        "`scantoken --version`, ms: {}",
        list(version.iter().copied(), 2)
    );
    if let Some(pairs) = &wrapper {
        println!(
            "Azure wrapper, ms (node index.js + binary): {}",
            list(pairs.iter().map(|p| p.1), 1)
        );
        println!(
            "Azure wrapper, ms (binary alone): {}",
            list(pairs.iter().map(|p| p.0), 1)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
