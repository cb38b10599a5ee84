//! `scantoken-bench`: runs the release `scantoken export` on a pull-request context against
//! the Sonar emulator with an injected latency per response, and prints, per configuration,
//! the median (min–max) of wall time, user+sys CPU, peak RSS, requests sent and sequential
//! round trips; then start-up time, binary and asset sizes, and the ratio against a
//! straightforward sequential client (the same probes, one after another, each over a fresh
//! connection). Usage: `scripts/bench.sh` (builds the release binary first).

use sonar_emulator::{start_blocking, EmulatorConfig, LoggedRequest, Scenario};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "sqco_BENCHbenchBENCHbenchBENCHbenchBENCHbenchBENCHbenchBENCHbench";
const RUNS: usize = 15;

fn scenario() -> Scenario {
    Scenario::from_yaml_str(&format!(
        "flavor: cloud\norganizations: [acme]\nprojects: [{{key: acme_payments, organization: acme}}]\n\
         tokens: [{{value: \"{TOKEN}\", kind: sot, organization: acme, projects: [acme_payments]}}]\n"
    ))
    .expect("a valid scenario")
}

/// One measured child process.
struct Run {
    wall: Duration,
    cpu: Duration,
    max_rss_kb: i64,
    requests: usize,
    waves: usize,
}

/// Spawns a command and waits for it with `wait4`, for its own CPU time and peak RSS.
fn measure(cmd: &mut Command) -> anyhow::Result<(Duration, Duration, i64, bool)> {
    let start = Instant::now();
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
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

fn export_command(binary: &Path, web: &str, api: &str, dir: &Path) -> Command {
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        r#"{"number":42,"pull_request":{"number":42,"head":{"ref":"feature/login","sha":"1111111111111111111111111111111111111111","repo":{"full_name":"acme/payments"}},"base":{"ref":"main","sha":"2222222222222222222222222222222222222222","repo":{"full_name":"acme/payments"}},"user":{"login":"octocat"}},"repository":{"full_name":"acme/payments","default_branch":"main"}}"#,
    )
    .expect("temp dir is writable");
    let mut cmd = Command::new(binary);
    cmd.arg("export")
        .env_clear()
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
        .env("SONAR_SCANNER_SONARCLOUDURL", web)
        .env("SONAR_SCANNER_APIBASEURL", api)
        .current_dir(dir);
    cmd
}

/// The baseline: each probe of a scantoken run, one after another, each on a new connection.
fn sequential_client(log: &[LoggedRequest], web: &str, api: &str) -> anyhow::Result<Duration> {
    let start = Instant::now();
    for r in log {
        let base = if r.listener == sonar_emulator::ListenerKind::Api {
            api
        } else {
            web
        };
        let host = base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host)?;
        let target = if r.query.is_empty() {
            r.path.clone()
        } else {
            format!("{}?{}", r.path, r.query)
        };
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        anyhow::ensure!(answer.starts_with(b"HTTP/1.1 "), "no HTTP answer");
    }
    Ok(start.elapsed())
}

/// The Azure task as the agent runs it (`node index.js` in the assembled task folder, which
/// starts the bundled binary) against the binary run directly, both on an Azure build's
/// variables against the emulator.
fn wrapper_overhead(
    root: &Path,
    binary: &Path,
    dir: &Path,
) -> anyhow::Result<Option<(Stats, Stats)>> {
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
            .env("SONAR_SCANNER_SONARCLOUDURL", emulator.web_url())
            .env("SONAR_SCANNER_APIBASEURL", emulator.api_url())
            .current_dir(&task);
    };
    let (mut alone, mut wrapped) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let mut direct = Command::new(bin.join("scantoken"));
        direct.args(["export", "--format", "azure"]);
        azure(&mut direct);
        let (wall, _, _, ok) = measure(&mut direct)?;
        anyhow::ensure!(ok, "scantoken failed");
        alone.push(wall.as_secs_f64() * 1000.0);
        let mut node = Command::new("node");
        node.arg(task.join("index.js"));
        azure(&mut node);
        let (wall, _, _, ok) = measure(&mut node)?;
        anyhow::ensure!(ok, "the task wrapper failed");
        wrapped.push(wall.as_secs_f64() * 1000.0);
    }
    Ok(Some((stats(alone), stats(wrapped))))
}

struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(mut values: Vec<f64>) -> Stats {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    Stats {
        median: values[values.len() / 2],
        min: values[0],
        max: values[values.len() - 1],
    }
}

fn show(s: &Stats, unit: &str, digits: usize) -> String {
    format!(
        "{:.d$} {unit} ({:.d$}–{:.d$})",
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

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/scantoken"));
    anyhow::ensure!(
        binary.exists(),
        "{} not found: build it with cargo build --release",
        binary.display()
    );
    let dir = std::env::temp_dir().join(format!("scantoken-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    println!("| configuration | wall | user+sys CPU | peak RSS | requests | round trips |");
    println!("|---|---|---|---|---|---|");
    let mut wall_at = Vec::new();
    let mut cpu_all = Vec::new();
    let mut rss_all = Vec::new();
    for latency in [0u64, 50] {
        let emulator = start_blocking(EmulatorConfig {
            latency_ms: latency,
            ..EmulatorConfig::new(scenario())
        })?;
        let (web, api) = (emulator.web_url(), emulator.api_url());
        let mut runs = Vec::new();
        let mut baseline = Vec::new();
        for _ in 0..RUNS {
            emulator.clear_log();
            let _ = std::fs::remove_file(dir.join("env"));
            let (wall, cpu, rss, ok) = measure(&mut export_command(&binary, &web, &api, &dir))?;
            anyhow::ensure!(ok, "scantoken export failed against the emulator");
            let log = emulator.log();
            runs.push(Run {
                wall,
                cpu,
                max_rss_kb: rss,
                requests: log.len(),
                waves: waves(&log),
            });
            emulator.clear_log();
            baseline.push(sequential_client(&log, &web, &api)?.as_secs_f64() * 1000.0);
        }
        let wall = stats(runs.iter().map(|r| r.wall.as_secs_f64() * 1000.0).collect());
        let cpu = stats(runs.iter().map(|r| r.cpu.as_secs_f64() * 1000.0).collect());
        let rss = stats(runs.iter().map(|r| r.max_rss_kb as f64 / 1024.0).collect());
        let requests = stats(runs.iter().map(|r| r.requests as f64).collect());
        let trips = stats(runs.iter().map(|r| r.waves as f64).collect());
        let base = stats(baseline);
        println!(
            "| export, L = {latency} ms | {} | {} | {} | {} | {} |",
            show(&wall, "ms", 1),
            show(&cpu, "ms", 1),
            show(&rss, "MB", 1),
            show(&requests, "", 0),
            show(&trips, "", 0)
        );
        println!(
            "| sequential client, L = {latency} ms | {} | | | {} | {} |",
            show(&base, "ms", 1),
            show(&requests, "", 0),
            show(&requests, "", 0)
        );
        wall_at.push((latency, wall.median, base.median, trips.max));
        cpu_all.push(cpu.median);
        rss_all.push(rss.max);
    }

    // Start-up: `scantoken --version`.
    let mut version = Vec::new();
    for _ in 0..30 {
        let (wall, ..) = measure(Command::new(&binary).arg("--version"))?;
        version.push(wall.as_secs_f64() * 1000.0);
    }
    let version = stats(version);
    let size = std::fs::metadata(&binary)?.len() as f64 / 1_000_000.0;
    let gz = Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -9 -c '{}' | wc -c", binary.display()))
        .output()?;
    let gz: f64 = String::from_utf8_lossy(&gz.stdout)
        .trim()
        .parse::<f64>()
        .unwrap_or(0.0)
        / 1_000_000.0;
    println!(
        "| `scantoken --version` | {} | | | | |",
        show(&version, "ms", 2)
    );
    println!();
    println!("| figure | value | target | |");
    println!("|---|---|---|---|");
    let (_, wall0, base0, _) = wall_at[0];
    let (_, wall50, base50, trips50) = wall_at[1];
    println!("| export wall at L = 0 ms (connect and local cost) | {wall0:.1} ms | | |");
    println!(
        "| export wall at L = 50 ms minus L = 0 ms | {:.1} ms | ≤ 1.3 × L = 65 ms | {} |",
        wall50 - wall0,
        verdict(wall50 - wall0 <= 65.0)
    );
    println!(
        "| sequential round trips at L = 50 ms (worst run) | {trips50} | 1 | {} |",
        verdict(trips50 == 1.0)
    );
    let cpu = cpu_all.iter().cloned().fold(0.0, f64::max);
    println!(
        "| user+sys CPU of an export (median, worst configuration) | {cpu:.1} ms | ≤ 20 ms | {} |",
        verdict(cpu <= 20.0)
    );
    let rss = rss_all.iter().cloned().fold(0.0, f64::max);
    println!(
        "| peak RSS (worst run) | {rss:.1} MB | ≤ 20 MB | {} |",
        verdict(rss <= 20.0)
    );
    println!(
        "| `--version` (median) | {:.2} ms | ≤ 5 ms | {} |",
        version.median,
        verdict(version.median <= 5.0)
    );
    println!(
        "| release binary, stripped | {size:.2} MB | ≤ 6 MB | {} |",
        verdict(size <= 6.0)
    );
    println!(
        "| compressed asset (gzip -9) | {gz:.2} MB | ≤ 3 MB | {} |",
        verdict(gz <= 3.0)
    );
    println!(
        "| sequential client ÷ scantoken, wall at L = 50 ms | {:.2}× | ≥ 2.5× | {} |",
        base50 / wall50,
        verdict(base50 / wall50 >= 2.5)
    );
    println!(
        "| sequential client ÷ scantoken, wall at L = 0 ms | {:.2}× | | |",
        base0 / wall0
    );
    match wrapper_overhead(&root, &binary, &dir)? {
        Some((alone, wrapped)) => println!(
            "| Azure wrapper overhead (node index.js + binary − binary alone, L = 0 ms) | {:.1} ms ({} vs {}) | ≤ 80 ms | {} |",
            wrapped.median - alone.median,
            show(&wrapped, "ms", 1),
            show(&alone, "ms", 1),
            verdict(wrapped.median - alone.median <= 80.0)
        ),
        None => println!("| Azure wrapper overhead | n/a (node not found) | ≤ 80 ms | |"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
