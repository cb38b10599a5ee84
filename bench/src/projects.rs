//! `scantoken-bench --projects`: `scantoken verify --projects auto` over a 50-project monorepo
//! (issue 23).
//!
//! The harness writes a monorepo in a temp dir (`services/p01` … `services/p50`, each a
//! `sonar-project.properties` with its own key), starts the emulator in-process as SonarQube
//! Cloud (custom URLs, plain http) with those 50 projects and one scoped token that can scan
//! them all, with L = 50 ms on every response, and per run:
//!
//! - runs the release binary's `verify --projects auto` in the monorepo's root: wall and
//!   user+sys CPU from `wait4`, peak RSS from GNU time (`/usr/bin/time -f %M`, its own `wait4`
//!   on the binary; a child spawned by the harness itself would report the harness's high-water
//!   mark, which the kernel carries through `exec`, as in [`crate::fleet`]); the emulator's log
//!   gives the requests, the distinct requests, the connections, the sequential round trips
//!   ([`crate::waves`]) and the most requests in flight at once;
//! - right after, the comparison: 50 `verify --project-base-dir services/pNN` processes one
//!   after another, timed as a whole, their traffic read from the log the same way;
//! - the harness's own TCP connect time to each listener, and one request's round trip on an
//!   open connection (L plus the emulator's own time).
//!
//! The targets are the issue's: wall ≤ connect + 2 × RTT + 100 ms (RTT = L, the injected
//! latency; connect = the median TCP connect), the 50 sequential runs ≥ 10× the wall of
//! `verify --projects` (per-run ratios), peak RSS ≤ 20 MB.

use crate::{list, show, stats, traffic, Traffic};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, LoggedRequest, Scenario};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const TOKEN: &str = "sqco_MONOmonoMONOmonoMONOmonoMONOmonoMONOmonoMONOmonoMONOmonoMONOmo";
const PROJECTS: usize = 50;
const LATENCY: u64 = 50;
/// The allowance beyond connect + 2 × RTT, in ms.
const SLACK_MS: f64 = 100.0;
const RATIO_TARGET: f64 = 10.0;
const RSS_TARGET_MB: f64 = 20.0;

fn key(i: usize) -> String {
    format!("acme_p{i:02}")
}

fn scenario() -> anyhow::Result<Scenario> {
    let projects: Vec<String> = (1..=PROJECTS)
        .map(|i| format!("{{key: {}, organization: acme}}", key(i)))
        .collect();
    Scenario::from_yaml_str(&format!(
        "flavor: cloud\norganizations: [acme]\nprojects: [{}]\n\
         tokens: [{{value: \"{TOKEN}\", kind: sot, organization: acme, projects: all}}]\n",
        projects.join(", ")
    ))
}

/// `services/p01` … `services/p50` under `root`, each with its own key.
fn monorepo(root: &Path) -> anyhow::Result<()> {
    for i in 1..=PROJECTS {
        let dir = root.join(format!("services/p{i:02}"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("sonar-project.properties"),
            format!(
                "sonar.projectKey={}\nsonar.organization=acme\nsonar.sources=src\n",
                key(i)
            ),
        )?;
    }
    Ok(())
}

/// A command with only the token and the emulator's URLs in its environment, in the monorepo.
fn in_repo(mut cmd: Command, emulator: &BlockingEmulator, repo: &Path) -> Command {
    cmd.env_clear()
        .env("SONAR_TOKEN", TOKEN)
        .env("SONAR_SCANNER_SONARCLOUD_URL", emulator.web_url())
        .env("SONAR_SCANNER_API_BASE_URL", emulator.api_url())
        .current_dir(repo);
    cmd
}

/// What the emulator's log adds to [`Traffic`].
struct Shape {
    traffic: Traffic,
    /// Distinct (listener, path?query, token) among the requests.
    distinct: usize,
    /// The most requests received and not yet answered at one instant.
    in_flight: usize,
}

fn shape(log: &[LoggedRequest]) -> Shape {
    let mut distinct: Vec<(bool, &str, &str, Option<&str>)> = log
        .iter()
        .map(|r| {
            (
                r.listener == sonar_emulator::ListenerKind::Api,
                r.path.as_str(),
                r.query.as_str(),
                r.token_fingerprint.as_deref(),
            )
        })
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let in_flight = log
        .iter()
        .map(|r| {
            log.iter()
                .filter(|o| o.received_us <= r.received_us && o.responded_us > r.received_us)
                .count()
        })
        .max()
        .unwrap_or(0);
    Shape {
        traffic: traffic(log),
        distinct: distinct.len(),
        in_flight,
    }
}

struct Run {
    wall_ms: f64,
    cpu_ms: f64,
    rss_mb: f64,
    shape: Shape,
    /// The 50 sequential `verify` processes, as a whole.
    sequential_ms: f64,
    sequential: Shape,
    /// TCP connect to the web and the API listener, from the harness.
    connect_ms: Vec<f64>,
    /// One request on an open connection.
    rtt_ms: f64,
}

/// `verify --projects auto`, through GNU time for the peak RSS; checks that it exited 0 and
/// printed a row for each project.
fn verify_projects(
    binary: &Path,
    emulator: &BlockingEmulator,
    repo: &Path,
    dir: &Path,
) -> anyhow::Result<(f64, f64, f64)> {
    let rss_file = dir.join("rss");
    let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
    let mut cmd = in_repo(
        crate::fleet::under_gnu_time(binary, &rss_file),
        emulator,
        repo,
    );
    cmd.args(["verify", "--projects", "auto"])
        .stdout(std::fs::File::create(&stdout)?);
    let (wall, cpu, _, ok) = crate::measure_to(&mut cmd, &stderr).map_err(|e| {
        anyhow::anyhow!("/usr/bin/time: {e} (GNU time measures the peak RSS; apt-get install time)")
    })?;
    let out = std::fs::read_to_string(&stdout).unwrap_or_default();
    anyhow::ensure!(
        ok,
        "scantoken verify --projects auto failed:\n{out}\n{}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    anyhow::ensure!(
        out.contains(&format!("Projects ({PROJECTS})")),
        "verify --projects auto did not list {PROJECTS} projects:\n{out}"
    );
    let rss_kb = crate::fleet::peak_rss_kib(&rss_file)? as f64;
    Ok((
        wall.as_secs_f64() * 1000.0,
        cpu.as_secs_f64() * 1000.0,
        rss_kb / 1024.0,
    ))
}

/// 50 `verify --project-base-dir services/pNN`, one after another; their total wall time.
fn sequential(binary: &Path, emulator: &BlockingEmulator, repo: &Path) -> anyhow::Result<f64> {
    let start = Instant::now();
    for i in 1..=PROJECTS {
        let base = format!("services/p{i:02}");
        let out = in_repo(Command::new(binary), emulator, repo)
            .args(["verify", "--project-base-dir", &base])
            .stdin(Stdio::null())
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "scantoken verify --project-base-dir {base} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

/// The harness's TCP connect to each listener, and one plain request's round trip on an
/// already open connection (the server version: no token, no project).
fn connect_and_rtt(emulator: &BlockingEmulator) -> anyhow::Result<(Vec<f64>, f64)> {
    let mut connects = Vec::new();
    for base in [emulator.web_url(), emulator.api_url()] {
        let host = base.trim_start_matches("http://").to_owned();
        let t = Instant::now();
        let stream = TcpStream::connect(&host)?;
        connects.push(t.elapsed().as_secs_f64() * 1000.0);
        drop(stream);
    }
    let host = emulator.web_url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&host)?;
    let request =
        format!("GET /api/server/version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let t = Instant::now();
    stream.write_all(request.as_bytes())?;
    let mut first = [0u8; 12];
    stream.read_exact(&mut first)?;
    let rtt = t.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(first.starts_with(b"HTTP/1.1 "), "no HTTP answer");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest)?;
    Ok((connects, rtt))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

pub fn run(binary: &Path, runs: usize, label: &str) -> anyhow::Result<()> {
    // The commands run in the monorepo: a relative path would not find the binary.
    let binary = &std::path::absolute(binary)?;
    let dir = std::env::temp_dir().join(format!("scantoken-projects-{}", std::process::id()));
    let repo = dir.join("monorepo");
    std::fs::create_dir_all(&repo)?;
    monorepo(&repo)?;
    let emulator = start_blocking(EmulatorConfig::new(scenario()?).with_latency_ms(LATENCY))?;
    println!(
        "Binary: `{}` ({label}); {runs} runs; {PROJECTS} projects (`services/p01` … `services/p{PROJECTS}`), \
         SonarQube Cloud emulated over plain http, one scoped token for all of them, L = {LATENCY} ms per response.",
        // Relative to the repository, as the other modes print it: no machine's paths.
        std::env::current_dir()
            .ok()
            .and_then(|cwd| binary.strip_prefix(cwd).ok())
            .unwrap_or(binary)
            .display()
    );
    println!();

    let mut all = Vec::new();
    for i in 0..runs {
        eprintln!("scantoken-bench --projects: run {} of {runs}", i + 1);
        let (connect_ms, rtt_ms) = connect_and_rtt(&emulator)?;
        emulator.clear_log();
        let (wall_ms, cpu_ms, rss_mb) = verify_projects(binary, &emulator, &repo, &dir)?;
        let shape = shape(&emulator.log());
        emulator.clear_log();
        let sequential_ms = sequential(binary, &emulator, &repo)?;
        let sequential = self::shape(&emulator.log());
        all.push(Run {
            wall_ms,
            cpu_ms,
            rss_mb,
            shape,
            sequential_ms,
            sequential,
            connect_ms,
            rtt_ms,
        });
    }
    drop(emulator);

    let s = |f: fn(&Run) -> f64| stats(all.iter().map(f).collect());
    let n = |f: fn(&Run) -> usize| stats(all.iter().map(|r| f(r) as f64).collect());
    println!("| configuration | wall | user+sys CPU | peak RSS | requests | distinct requests | connections | round trips | most in flight |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| `verify --projects auto`, {PROJECTS} projects | {} | {} | {} | {} | {} | {} | {} | {} |",
        show(&s(|r| r.wall_ms), "ms", 1),
        show(&s(|r| r.cpu_ms), "ms", 1),
        show(&s(|r| r.rss_mb), "MB", 1),
        show(&n(|r| r.shape.traffic.requests), "", 0),
        show(&n(|r| r.shape.distinct), "", 0),
        show(&n(|r| r.shape.traffic.connections), "", 0),
        show(&n(|r| r.shape.traffic.waves), "", 0),
        show(&n(|r| r.shape.in_flight), "", 0),
    );
    println!(
        "| {PROJECTS} × `verify --project-base-dir services/pNN`, one after another | {} | | | {} | {} | {} | {} | {} |",
        show(&s(|r| r.sequential_ms), "ms", 1),
        show(&n(|r| r.sequential.traffic.requests), "", 0),
        show(&n(|r| r.sequential.distinct), "", 0),
        show(&n(|r| r.sequential.traffic.connections), "", 0),
        show(&n(|r| r.sequential.traffic.waves), "", 0),
        show(&n(|r| r.sequential.in_flight), "", 0),
    );
    println!();

    let connect = stats(
        all.iter()
            .flat_map(|r| r.connect_ms.iter().copied())
            .collect(),
    );
    let rtt = s(|r| r.rtt_ms);
    let wall = s(|r| r.wall_ms);
    let ratio = stats(all.iter().map(|r| r.sequential_ms / r.wall_ms).collect());
    let rss = all.iter().map(|r| r.rss_mb).fold(0.0, f64::max);
    let bound = connect.median + 2.0 * LATENCY as f64 + SLACK_MS;
    println!("| figure | value | target | |");
    println!("|---|---|---|---|");
    println!(
        "| connect, plain http (TCP connect from the harness, web and API listener) | {} | | |",
        show(&connect, "ms", 2)
    );
    println!("| RTT: L, the latency injected on every response | {LATENCY} ms | | |");
    println!(
        "| one request's round trip on an open connection, from the harness (L + the emulator's own time) | {} | | |",
        show(&rtt, "ms", 1)
    );
    println!(
        "| wall of `verify --projects auto` (worst run {:.1} ms) | {:.1} ms | ≤ connect + 2 × RTT + {SLACK_MS:.0} ms = {:.2} + {} + {SLACK_MS:.0} = {bound:.1} ms | {} |",
        wall.max,
        wall.median,
        connect.median,
        2 * LATENCY,
        verdict(wall.median <= bound)
    );
    println!(
        "| {PROJECTS} sequential `verify` ÷ `verify --projects auto`, wall (per-run ratios) | {} | ≥ {RATIO_TARGET:.0}× | {} |",
        show(&ratio, "×", 2),
        verdict(ratio.median >= RATIO_TARGET)
    );
    println!(
        "| peak RSS of `verify --projects auto` (worst run) | {rss:.1} MB | ≤ {RSS_TARGET_MB:.0} MB | {} |",
        verdict(rss <= RSS_TARGET_MB)
    );
    let worst_waves = all.iter().map(|r| r.shape.traffic.waves).max().unwrap_or(0);
    println!(
        "| sequential round trips of `verify --projects auto` (worst run) | {worst_waves} | (2 × RTT in the bound) | |"
    );

    println!();
    println!("Per-run values (in run order; each `verify --projects auto` is followed by the {PROJECTS} sequential runs):");
    println!();
    println!("| run | wall ms | CPU ms | RSS MB | requests | distinct | connections | round trips | most in flight | sequential wall ms | seq. requests | seq. connections | seq. round trips | ratio | connect ms (web / API) | RTT ms |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, r) in all.iter().enumerate() {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {:.2}× | {} | {:.1} |",
            i + 1,
            r.wall_ms,
            r.cpu_ms,
            r.rss_mb,
            r.shape.traffic.requests,
            r.shape.distinct,
            r.shape.traffic.connections,
            r.shape.traffic.waves,
            r.shape.in_flight,
            r.sequential_ms,
            r.sequential.traffic.requests,
            r.sequential.traffic.connections,
            r.sequential.traffic.waves,
            r.sequential_ms / r.wall_ms,
            list(r.connect_ms.iter().copied(), 2),
            r.rtt_ms,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
