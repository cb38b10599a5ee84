//! `scantoken-bench --fleet-server`: `scantoken audit --projects-from-server` at 10,000 and
//! 100,000 projects, and `audit merge` of 10 shards of 10,000 (issue 24).
//!
//! SonarQube Cloud in-process, one scoped token over every project, the projects listed by an
//! organization administrator's token (`api/projects/search`, 500 per page). Each audit runs as
//! a child measured with `wait4` (wall, user+sys CPU) and GNU time (peak RSS, as in
//! [`crate::fleet`]). The 10,000-project run has L = 50 ms per response; the 100,000-project
//! runs (one process, and 10 shards of it, then their merge) L = 5 ms, so that one run stays
//! within minutes on this machine. The bound is the issue's: 2 × ⌈P / C⌉ × RTT + 1 s, plus the
//! listing's pages (a round trip each), where RTT is measured here before each configuration:
//! the median of 100 sequential scan probes on one open connection (L plus the emulator's
//! own time). The bound with RTT taken as L is printed beside it.

use crate::{measure, show, stats};
use sonar_emulator::{start_blocking, BlockingEmulator, EmulatorConfig, Scenario};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Instant;

const TOKEN: &str = "sqco_FLEETfleetFLEETfleetFLEETfleetFLEETfleetFLEETfleetFLEETfleet1";
const ADMIN: &str = "0123456789abcdef0123456789abcdef01234567";
const C: u64 = 32;
const SHARDS: u32 = 10;

fn cloud(projects: usize, latency: u64) -> anyhow::Result<BlockingEmulator> {
    let scenario = Scenario::from_yaml_str(&format!(
        "flavor: cloud\norganizations: [acme]\n\
         tokens: [{{value: \"{TOKEN}\", kind: sot, organization: acme, projects: all}},\
                  {{value: \"{ADMIN}\", kind: personal, admin: true, organization: acme}}]\n\
         fleet: [{{prefix: acme_svc-, count: {projects}, organization: acme}}]\n"
    ))?;
    start_blocking(EmulatorConfig::new(scenario).with_latency_ms(latency))
}

struct Run {
    wall_ms: f64,
    cpu_ms: f64,
    rss_mb: f64,
    projects: u64,
    pages: u64,
    requests: usize,
}

/// One scantoken command as a measured child; `evidence` is the JSON it writes.
fn run(
    binary: &Path,
    args: &[&str],
    env: &[(&str, String)],
    dir: &Path,
    evidence: &Path,
) -> anyhow::Result<Run> {
    let _ = std::fs::remove_file(evidence);
    let rss_file = dir.join("rss");
    let mut cmd = crate::fleet::under_gnu_time(binary, &rss_file);
    cmd.args(args)
        .arg("--json-file")
        .arg(evidence)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir);
    let stderr = dir.join("stderr");
    let (wall, cpu, _, ok) = measure(&mut cmd, &stderr)?;
    anyhow::ensure!(
        ok,
        "scantoken {args:?} failed:\n{}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    let rss = crate::fleet::peak_rss_kib(&rss_file)? as f64;
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(evidence)?)?;
    anyhow::ensure!(
        report["summary"]["not_covered"] == 0,
        "not every project covered: {}",
        report["summary"]
    );
    Ok(Run {
        wall_ms: wall.as_secs_f64() * 1000.0,
        cpu_ms: cpu.as_secs_f64() * 1000.0,
        rss_mb: rss / 1024.0,
        projects: report["summary"]["projects"].as_u64().unwrap_or(0),
        pages: report["listing"]["pages"].as_u64().unwrap_or(0),
        requests: 0,
    })
}

/// The fleet's first project key (`acme_svc-` and the number, padded to the count's width).
fn first_key(projects: usize) -> String {
    format!("acme_svc-{:0width$}", 1, width = projects.to_string().len())
}

fn env(emulator: &BlockingEmulator) -> Vec<(&'static str, String)> {
    vec![
        ("SONAR_TOKEN", TOKEN.to_owned()),
        ("ADMIN_TOKEN", ADMIN.to_owned()),
        ("SONAR_ORGANIZATION", "acme".to_owned()),
        ("SONAR_SCANNER_SONARCLOUD_URL", emulator.web_url()),
        ("SONAR_SCANNER_API_BASE_URL", emulator.api_url()),
    ]
}

const AUDIT: [&str; 6] = [
    "audit",
    "--projects-from-server",
    "--read-token-env",
    "ADMIN_TOKEN",
    "--progress",
    "off",
];

/// A configuration, its run, and (L, the measured RTT).
type Row = (String, Run, (f64, f64));

/// The bound: 2 × ⌈P / C⌉ × RTT + 1 s, plus the listing's pages, a round trip each.
fn bound_ms(projects: u64, pages: u64, rtt_ms: f64) -> f64 {
    2.0 * (projects as f64 / C as f64).ceil() * rtt_ms + 1000.0 + pages as f64 * rtt_ms
}

/// One request's round trip as a client sees it (L plus the emulator's own time): the median
/// of 100 sequential scan probes for one project on one open connection, after one to warm
/// up. The emulator's log is cleared afterwards, so the run's request count is its own.
fn round_trip_ms(emulator: &BlockingEmulator, project: &str) -> anyhow::Result<f64> {
    let host = emulator.api_url().trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(&host)?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let request = format!(
        "GET /sensor-cache/prepare-read?organization=acme&project={project} HTTP/1.1\r\n\
         Host: {host}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    );
    let mut times = Vec::new();
    for _ in 0..101 {
        let t = Instant::now();
        writer.write_all(request.as_bytes())?;
        let mut length = None;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        anyhow::ensure!(
            line.starts_with("HTTP/1.1 200"),
            "scan probe answered {line:?}"
        );
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = Some(v.trim().parse::<usize>()?);
                }
            }
        }
        let mut body = vec![0; length.ok_or_else(|| anyhow::anyhow!("no Content-Length"))?];
        reader.read_exact(&mut body)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    emulator.clear_log();
    let mut times = times.split_off(1);
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

pub fn run_all(binary: &Path, label: &str) -> anyhow::Result<()> {
    let binary = &std::path::absolute(binary)?;
    let dir = std::env::temp_dir().join(format!("scantoken-fleet-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!(
        "Binary: `{}` ({label}); one run per configuration, default concurrency C = {C}.",
        binary.display()
    );
    println!();
    let mut rows: Vec<Row> = Vec::new();

    eprintln!("scantoken-bench --fleet-server: Cloud, 10,000 projects from the server, L = 50 ms");
    let emulator = cloud(10_000, 50)?;
    let rtt = round_trip_ms(&emulator, &first_key(10_000))?;
    let mut r = run(
        binary,
        &AUDIT,
        &env(&emulator),
        &dir,
        &dir.join("e10k.json"),
    )?;
    r.requests = emulator.log().len();
    rows.push((
        "10,000 projects from the server, one process, L = 50 ms".into(),
        r,
        (50.0, rtt),
    ));
    drop(emulator);

    eprintln!("scantoken-bench --fleet-server: Cloud, 100,000 projects from the server, L = 5 ms");
    let emulator = cloud(100_000, 5)?;
    let rtt = round_trip_ms(&emulator, &first_key(100_000))?;
    let e = env(&emulator);
    let mut r = run(binary, &AUDIT, &e, &dir, &dir.join("e100k.json"))?;
    r.requests = emulator.log().len();
    rows.push((
        "100,000 projects from the server, one process, L = 5 ms".into(),
        r,
        (5.0, rtt),
    ));

    eprintln!("scantoken-bench --fleet-server: 10 shards of the 100,000, then their merge");
    let mut shard_runs = Vec::new();
    let mut files = Vec::new();
    for i in 1..=SHARDS {
        emulator.clear_log();
        let shard = format!("{i}/{SHARDS}");
        let file = dir.join(format!("shard-{i}.json"));
        let mut args = AUDIT.to_vec();
        args.extend(["--shard", &shard]);
        let mut r = run(binary, &args, &e, &dir, &file)?;
        r.requests = emulator.log().len();
        shard_runs.push(r);
        files.push(file);
    }
    drop(emulator);
    let mut args = vec!["audit", "merge"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let merged = run(binary, &args, &[], &dir, &dir.join("merged.json"))?;
    anyhow::ensure!(
        merged.projects == 100_000,
        "the merge holds {} projects",
        merged.projects
    );

    println!("| configuration | wall | user+sys CPU | peak RSS | projects | listing pages | requests | RTT (measured) | bound (wall), RTT measured | | bound with RTT = L |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, r, (l, rtt)) in rows.iter().map(|(n, r, b)| (n, r, *b)) {
        let bound = bound_ms(r.projects, r.pages, rtt);
        let bound_l = bound_ms(r.projects, r.pages, l);
        println!(
            "| {name} | {:.0} ms | {:.0} ms | {:.1} MiB | {} | {} | {} | {rtt:.2} ms | {bound:.0} ms | {} | {bound_l:.0} ms ({}) |",
            r.wall_ms,
            r.cpu_ms,
            r.rss_mb,
            r.projects,
            r.pages,
            r.requests,
            verdict(r.wall_ms <= bound),
            if r.wall_ms <= bound_l { "within" } else { "over" },
        );
    }
    let s = |f: fn(&Run) -> f64| stats(shard_runs.iter().map(f).collect());
    println!(
        "| one of 10 shards of the 100,000 (median (min–max) of the 10), L = 5 ms | {} | {} | {} | {} | {} | {} | | | | |",
        show(&s(|r| r.wall_ms), "ms", 0),
        show(&s(|r| r.cpu_ms), "ms", 0),
        show(&s(|r| r.rss_mb), "MiB", 1),
        shard_runs.iter().map(|r| r.projects).sum::<u64>(),
        shard_runs[0].pages,
        shard_runs.iter().map(|r| r.requests).sum::<usize>(),
    );
    println!(
        "| `audit merge` of the 10 shards | {:.0} ms | {:.0} ms | {:.1} MiB | {} | | | | | | |",
        merged.wall_ms, merged.cpu_ms, merged.rss_mb, merged.projects
    );
    println!();
    let worst_shard = shard_runs.iter().map(|r| r.rss_mb).fold(0.0, f64::max);
    println!("| figure | value | target | |");
    println!("|---|---|---|---|");
    for (name, r, _) in &rows {
        println!(
            "| peak RSS, {name} | {:.1} MiB | ≤ 50 MiB | {} |",
            r.rss_mb,
            verdict(r.rss_mb <= 50.0)
        );
    }
    println!(
        "| peak RSS, one shard of 10,000 (worst) | {worst_shard:.1} MiB | ≤ 50 MiB | {} |",
        verdict(worst_shard <= 50.0)
    );
    println!(
        "| peak RSS, merge of 10 shards of 10,000 | {:.1} MiB | ≤ 50 MiB | {} |",
        merged.rss_mb,
        verdict(merged.rss_mb <= 50.0)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
