//! The SonarScanner for .NET's command line (`SonarScanner.MSBuild`, its
//! `ArgumentProcessor`): `begin` with `/k:` (`/key:`), `/o:` (`/organization:`), `/n:`, `/v:`,
//! `/d:key=value`, each also with `-` for `/`; `end` with `/d:` only. Prefixes are matched
//! without regard to case; a named argument may be given once, a `/d:` key once; any other
//! argument stops the scanner with an error. `/s:` names a settings file scantoken does not
//! read, so it is refused. No .NET runtime is installed here, so this model is tested against
//! the documented rules (docs/scanner-configuration.md). This module only reads.

use super::{Props, Unplaced};

/// `(prefix, property)`: the named arguments of `begin`.
const NAMED: &[(&str, &str)] = &[
    ("k:", "sonar.projectKey"),
    ("key:", "sonar.projectKey"),
    ("o:", "sonar.organization"),
    ("organization:", "sonar.organization"),
    ("n:", "sonar.projectName"),
    ("name:", "sonar.projectName"),
    ("v:", "sonar.projectVersion"),
    ("version:", "sonar.projectVersion"),
];

/// Reads the arguments after the program (`begin ...`, `end ...`).
pub fn read(args: &[String]) -> Result<Props, Unplaced> {
    let Some(step) = args.first() else {
        return Err(Unplaced::at(
            0,
            "the SonarScanner for .NET needs begin or end",
        ));
    };
    let begin = step.eq_ignore_ascii_case("begin");
    if !begin && !step.eq_ignore_ascii_case("end") {
        return Err(Unplaced::at(
            0,
            "the SonarScanner for .NET takes begin or end first",
        ));
    }
    let mut out: Props = Vec::new();
    for (at, arg) in args.iter().enumerate().skip(1) {
        let Some(body) = arg.strip_prefix('/').or_else(|| arg.strip_prefix('-')) else {
            return Err(Unplaced::at(
                at,
                "the SonarScanner for .NET stops at an argument it does not know",
            ));
        };
        let lower = body.to_ascii_lowercase();
        if let Some(kv) = lower.strip_prefix("d:").map(|_| &body[2..]) {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(Unplaced::at(at, "/d: needs key=value"));
            };
            if out.iter().any(|(key, _)| key == k) {
                return Err(Unplaced::at(
                    at,
                    "the SonarScanner for .NET refuses a key given twice",
                ));
            }
            if begin && NAMED.iter().any(|(_, p)| *p == k) {
                return Err(Unplaced::at(at, "the SonarScanner for .NET takes this property only as a named argument (/k:, /n:, /v:)"));
            }
            out.push((k.to_owned(), v.to_owned()));
            continue;
        }
        if lower.starts_with("s:") {
            return Err(Unplaced::at(at, "a settings file (/s:) may name the host or the project, and scantoken does not read it"));
        }
        let named = NAMED.iter().find(|(prefix, _)| lower.starts_with(prefix));
        match named {
            Some((prefix, property)) if begin => {
                if out.iter().any(|(k, _)| k == property) {
                    return Err(Unplaced::at(
                        at,
                        "the SonarScanner for .NET refuses an argument given twice",
                    ));
                }
                out.push(((*property).to_owned(), body[prefix.len()..].to_owned()));
            }
            _ => {
                return Err(Unplaced::at(
                    at,
                    "the SonarScanner for .NET stops at an argument it does not know",
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn begin_and_end_forms() {
        let p = read(&args(&[
            "BEGIN",
            "/K:a",
            "-o:o",
            "/d:sonar.host.url=https://h",
            "/Version:1",
        ]))
        .unwrap();
        assert_eq!(
            p,
            vec![
                ("sonar.projectKey".to_string(), "a".to_string()),
                ("sonar.organization".into(), "o".into()),
                ("sonar.host.url".into(), "https://h".into()),
                ("sonar.projectVersion".into(), "1".into()),
            ]
        );
        assert_eq!(
            read(&args(&["end", "/d:sonar.verbose=true"]))
                .unwrap()
                .len(),
            1
        );
        for bad in [
            &["begin", "/k:a", "/key:b"][..],
            &["begin", "/d:sonar.projectKey=b"],
            &["begin", "/d:x=1", "-d:x=2"],
            &["begin", "/d:x"],
            &["begin", "/s:SonarQube.Analysis.xml"],
            &["begin", "stray"],
            &["end", "/k:a"],
            &["build"],
            &[],
        ] {
            assert!(read(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
