//! `scantoken-bench --fleet`: `scantoken audit` at fleet size against the emulator (issue 13).
//!
//! SonarQube Cloud with one scoped token scoped to all projects and 50 ms injected latency per
//! response: 1,000 projects over http and https (against the bound
//! 2 × ⌈1000 / C⌉ × 50 ms + 1 s, C the default concurrency, and against a loop of
//! `scantoken verify` calls over the same projects, measured in the same run), and 10,000
//! projects over https to show how the cost grows. Then SonarQube Server with 1,000 projects
//! under a throttling emulator: every pair must be decided, and once the first 429 reached
//! the client, no request may go beyond the allowed rate.
//!
//! Each audit runs as a child measured with `wait4` (wall, user+sys CPU) and GNU time (peak
//! RSS, see [`audit`]); the emulator's log gives the requests, the connections and the HTTP
//! version.

use crate::{measure, show, stats};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, Scenario, TestPki};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const TOKEN: &str = "sqco_FLEETfleetFLEETfleetFLEETfleetFLEETfleetFLEETfleetFLEETfleet1";
const SERVER_TOKEN: &str = "squ_fleet000000000000000000000000000000000";
const LATENCY: u64 = 50;
/// scantoken's default concurrency (src/audit/mod.rs DEFAULT_CONCURRENCY).
const C: u64 = 32;
const THROTTLE_PER_SECOND: u32 = 200;

fn cloud(projects: usize) -> Scenario {
    Scenario::from_yaml_str(&format!(
        "flavor: cloud\norganizations: [acme]\n\
         tokens: [{{value: \"{TOKEN}\", kind: sot, organization: acme, projects: all}}]\n\
         fleet: [{{prefix: acme_svc-, count: {projects}, organization: acme}}]\n"
    ))
    .expect("a valid scenario")
}

fn server(projects: usize) -> Scenario {
    Scenario::from_yaml_str(&format!(
        "flavor: server\nthrottle: {{per_second: {THROTTLE_PER_SECOND}}}\n\
         tokens: [{{value: \"{SERVER_TOKEN}\", kind: user, scan: all}}]\n\
         fleet: [{{prefix: acme_svc-, count: {projects}}}]\n"
    ))
    .expect("a valid scenario")
}

/// The first `projects` keys of a fleet of `fleet` projects (keys are zero-padded to its size).
fn keys(projects: usize, fleet: usize) -> Vec<String> {
    let width = fleet.to_string().len();
    (1..=projects)
        .map(|i| format!("acme_svc-{i:0width$}"))
        .collect()
}

struct Run {
    wall_ms: f64,
    cpu_ms: f64,
    rss_mb: f64,
    requests: usize,
    connections: usize,
    versions: String,
    decided: u64,
    covered: u64,
    throttled: usize,
    /// 429s received more than 50 ms after the first 429 was answered.
    late_429: usize,
    /// The most requests answered (not 429) in one second of the emulator's clock.
    peak_per_second: usize,
}

/// `binary` run by GNU time, which writes its peak RSS (KiB) to `rss_file`. Through GNU time,
/// which forks the audit from its own small process: a child spawned from this harness would
/// count the harness's own peak (the emulator's log of thousands of requests) in its
/// ru_maxrss, since the kernel carries the parent's high-water mark through exec.
pub(crate) fn under_gnu_time(binary: &Path, rss_file: &Path) -> Command {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%M").arg("-o").arg(rss_file).arg(binary);
    cmd
}

/// The peak RSS, in KiB, that [`under_gnu_time`] recorded.
pub(crate) fn peak_rss_kib(rss_file: &Path) -> anyhow::Result<i64> {
    Ok(std::fs::read_to_string(rss_file)
        .map_err(|e| anyhow::anyhow!("/usr/bin/time (GNU time) wrote no peak RSS: {e}"))?
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .parse()?)
}

fn audit(
    binary: &Path,
    emulator: &BlockingEmulator,
    env: &[(&str, String)],
    projects: usize,
    fleet: usize,
    dir: &Path,
) -> anyhow::Result<Run> {
    std::fs::write(dir.join("projects.txt"), keys(projects, fleet).join("\n"))?;
    let evidence = dir.join("evidence.json");
    let _ = std::fs::remove_file(&evidence);
    emulator.clear_log();
    let rss_file = dir.join("rss");
    let mut cmd = under_gnu_time(binary, &rss_file);
    cmd.args(["audit", "--projects-file", "projects.txt", "--json-file"])
        .arg(&evidence)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir);
    let stderr = dir.join("stderr");
    let (wall, cpu, _, ok) = measure(&mut cmd, &stderr)?;
    let rss = peak_rss_kib(&rss_file)?;
    let text = std::fs::read_to_string(&evidence).map_err(|e| {
        anyhow::anyhow!(
            "scantoken audit wrote no evidence ({e}):\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        )
    })?;
    let report: serde_json::Value = serde_json::from_str(&text)?;
    anyhow::ensure!(
        ok,
        "scantoken audit failed: {:.2000}\n{}",
        report["findings"].to_string(),
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    let log = emulator.log();
    let mut conns: Vec<u64> = log.iter().map(|r| r.connection).collect();
    conns.sort_unstable();
    conns.dedup();
    let mut versions: Vec<String> = log.iter().map(|r| r.version.clone()).collect();
    versions.sort();
    versions.dedup();
    let first_429 = log
        .iter()
        .filter(|r| r.status == 429)
        .map(|r| r.responded_us)
        .min();
    let late_429 = first_429.map_or(0, |f| {
        log.iter()
            .filter(|r| r.status == 429 && r.received_us > f + 50_000)
            .count()
    });
    let mut per_second = std::collections::HashMap::new();
    for r in log.iter().filter(|r| r.status != 429) {
        *per_second
            .entry(r.received_us / 1_000_000)
            .or_insert(0usize) += 1;
    }
    Ok(Run {
        wall_ms: wall.as_secs_f64() * 1000.0,
        cpu_ms: cpu.as_secs_f64() * 1000.0,
        rss_mb: rss as f64 / 1024.0,
        requests: log.len(),
        connections: conns.len(),
        versions: versions.join(", "),
        decided: report["pairs"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter(|p| p["verdict"] != "not-checked" && p["verdict"] != "server-error")
                    .count() as u64
            })
            .unwrap_or(0),
        covered: report["summary"]["covered"].as_u64().unwrap_or(0),
        throttled: log.iter().filter(|r| r.status == 429).count(),
        late_429,
        peak_per_second: per_second.values().copied().max().unwrap_or(0),
    })
}

fn cloud_env(emulator: &BlockingEmulator, ca: Option<&Path>) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("SONAR_TOKEN", TOKEN.to_owned()),
        ("SONAR_ORGANIZATION", "acme".to_owned()),
        ("SONAR_SCANNER_SONARCLOUD_URL", emulator.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", emulator.api_url()),
    ];
    if let Some(ca) = ca {
        env.push(("SCANTOKEN_CA_FILE", ca.display().to_string()));
    }
    env
}

/// The loop an admin would otherwise write: one `scantoken verify` per project.
fn verify_loop(
    binary: &Path,
    env: &[(&str, String)],
    projects: usize,
    dir: &Path,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    for key in keys(projects, projects) {
        let out = Command::new(binary)
            .args(["verify", "--project-key", &key])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "scantoken verify {key} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

fn row(name: &str, runs: &[Run]) {
    let s = |f: fn(&Run) -> f64| stats(runs.iter().map(f).collect());
    let last = runs.last().expect("a run");
    println!(
        "| {name} | {} | {} | {} | {} | {} | {} | {} / {} | {} |",
        show(&s(|r| r.wall_ms), "ms", 0),
        show(&s(|r| r.cpu_ms), "ms", 0),
        show(&s(|r| r.rss_mb), "MB", 1),
        last.requests,
        last.connections,
        last.versions,
        last.decided,
        last.covered,
        last.throttled,
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

pub fn run(binary: &Path, runs: usize, label: &str) -> anyhow::Result<()> {
    // The audits run in a directory of their own: a relative path would not find the binary.
    let binary = &std::path::absolute(binary)?;
    let dir = std::env::temp_dir().join(format!("scantoken-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let pki = TestPki::generate(&[])?;
    let ca = dir.join("test-ca.pem");
    std::fs::write(&ca, &pki.ca_pem)?;
    println!("Binary: `{}` ({label}); {runs} run(s) per fleet configuration, L = {LATENCY} ms per response, default concurrency C = {C}.", binary.display());
    println!();

    eprintln!("scantoken-bench --fleet: Cloud, 1,000 projects, http");
    let emulator = start_blocking(EmulatorConfig::new(cloud(1000)).with_latency_ms(LATENCY))?;
    let env = cloud_env(&emulator, None);
    let mut http = Vec::new();
    for _ in 0..runs {
        http.push(audit(binary, &emulator, &env, 1000, 1000, &dir)?);
    }
    eprintln!("scantoken-bench --fleet: a loop of 1,000 scantoken verify, http");
    let loop_ms = verify_loop(binary, &env, 1000, &dir)?;
    // The audit right after the loop, for a ratio measured in the same conditions.
    let after = audit(binary, &emulator, &env, 1000, 1000, &dir)?;
    drop(emulator);

    eprintln!("scantoken-bench --fleet: Cloud, 1,000 and 10,000 projects, https");
    let emulator = start_blocking(
        EmulatorConfig::new(cloud(10_000))
            .with_latency_ms(LATENCY)
            .with_tls(pki.server_files()),
    )?;
    let env = cloud_env(&emulator, Some(&ca));
    let mut https = Vec::new();
    for _ in 0..runs {
        https.push(audit(binary, &emulator, &env, 1000, 10_000, &dir)?);
    }
    let big = vec![audit(binary, &emulator, &env, 10_000, 10_000, &dir)?];
    drop(emulator);

    eprintln!("scantoken-bench --fleet: Server, 1,000 projects, throttled");
    let emulator = start_blocking(EmulatorConfig::new(server(1000)).with_latency_ms(LATENCY))?;
    let env = vec![
        ("SONAR_TOKEN", SERVER_TOKEN.to_owned()),
        ("SONAR_HOST_URL", emulator.web_url()),
    ];
    let throttled = vec![audit(binary, &emulator, &env, 1000, 1000, &dir)?];
    drop(emulator);

    println!("| configuration | wall | user+sys CPU | peak RSS | requests | connections | HTTP | pairs decided / covered | 429 answers |");
    println!("|---|---|---|---|---|---|---|---|---|");
    row("Cloud, 1,000 projects, http", &http);
    row(
        "Cloud, 1,000 projects, http, right after the verify loop",
        std::slice::from_ref(&after),
    );
    row("Cloud, 1,000 projects, https", &https);
    row("Cloud, 10,000 projects, https", &big);
    row(
        &format!("Server, 1,000 projects, http, throttled at {THROTTLE_PER_SECOND} requests/s"),
        &throttled,
    );
    println!("| loop of 1,000 `scantoken verify`, http | {loop_ms:.0} ms | | | | | | | |");
    println!();

    let bound = 2.0 * (1000f64 / C as f64).ceil() * LATENCY as f64 + 1000.0;
    let wall_http = stats(http.iter().map(|r| r.wall_ms).collect());
    let wall_https = stats(https.iter().map(|r| r.wall_ms).collect());
    let worst_cpu = http
        .iter()
        .chain(&https)
        .map(|r| r.cpu_ms)
        .fold(0.0, f64::max);
    let worst_rss = http
        .iter()
        .chain(&https)
        .map(|r| r.rss_mb)
        .fold(0.0, f64::max);
    let ratio = loop_ms / after.wall_ms;
    let t = &throttled[0];
    println!("| figure | value | target | |");
    println!("|---|---|---|---|");
    for (name, s) in [("http", &wall_http), ("https", &wall_https)] {
        println!(
            "| wall, 1,000 projects, {name} (worst run {:.0} ms) | {:.0} ms | ≤ 2 × ⌈1000 / {C}⌉ × {LATENCY} ms + 1 s = {bound:.0} ms | {} |",
            s.max,
            s.median,
            verdict(s.max <= bound)
        );
    }
    println!(
        "| loop of `scantoken verify` ÷ audit, 1,000 projects, http ({loop_ms:.0} ms ÷ {:.0} ms) | {ratio:.1}× | ≥ 10× | {} |",
        after.wall_ms,
        verdict(ratio >= 10.0)
    );
    println!(
        "| peak RSS, 1,000 projects (worst run) | {worst_rss:.1} MB | ≤ 50 MB | {} |",
        verdict(worst_rss <= 50.0)
    );
    println!(
        "| user+sys CPU, 1,000 projects (worst run) | {worst_cpu:.0} ms | ≤ 2 s | {} |",
        verdict(worst_cpu <= 2000.0)
    );
    println!(
        "| 10,000 projects, https: wall, CPU, peak RSS | {:.0} ms, {:.0} ms, {:.1} MB | (how cost grows) | |",
        big[0].wall_ms, big[0].cpu_ms, big[0].rss_mb
    );
    println!(
        "| throttled: pairs decided | {} of 1000 | all | {} |",
        t.decided,
        verdict(t.decided == 1000)
    );
    println!(
        "| throttled: 429 answers received more than 50 ms after the first 429 was answered | {} (of {} 429s) | 0 | {} |",
        t.late_429,
        t.throttled,
        verdict(t.late_429 == 0)
    );
    println!(
        "| throttled: most requests answered in one second of the emulator's clock | {} | ≤ {THROTTLE_PER_SECOND} | {} |",
        t.peak_per_second,
        verdict(t.peak_per_second <= THROTTLE_PER_SECOND as usize)
    );
    println!("| throttled: wall | {:.0} ms | | |", t.wall_ms);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
