//! @sonar/scan's command line, read by the rules of the library it parses with: commander
//! (15.0.0 for @sonar/scan 5.0.1; its program is `-D, --define <property=value...>`,
//! `-X, --debug`, `-v, --version` and commander's own `-h, --help`, in `src/runner.js`).
//!
//! commander's rules, as `Command.parseOptions` applies them: an exact option name first; a
//! single-dash word of more than two characters is a cluster whose first letter is the option
//! (`-Dk=v` is `-D` with `k=v`; `-XDk=v` is `-X`, then `-Dk=v`); `--define=k=v`; a value-taking
//! option takes the next word whatever it looks like; a variadic one (`-D`) then keeps taking
//! every word up to the next one that looks like an option; `--` ends the options. Each
//! `key=value` is split at its first `=` (no `=`: an empty value), the last of a key wins
//! (`src/properties.js`, `getCommandLineProperties`). An unknown option or a word that is no
//! option's value makes commander stop with an error, so the scan never starts: that is
//! an [`Unplaced`] argument, which `run` refuses. This module only reads.

use super::{Props, Unplaced};

/// The options @sonar/scan declares, as this module's match arms read them: short, long,
/// takes a value, variadic (tests/differential.rs checks them against @sonar/scan's own
/// program). commander adds `-h, --help`.
pub const DECLARED: [(&str, &str, bool, bool); 3] = [
    ("-D", "--define", true, true),
    ("-v", "--version", false, false),
    ("-X", "--debug", false, false),
];

/// Reads @sonar/scan's arguments (after the program).
pub fn read(args: &[String]) -> Result<Props, Unplaced> {
    let mut defines: Vec<String> = Vec::new();
    let mut props: Props = Vec::new();
    let mut variadic = false;
    let mut group: Option<String> = None;
    let mut i = 0;
    // The word being read (a cluster's rest is still that word).
    let mut at = 0;
    loop {
        let arg = match group.take() {
            Some(g) => g,
            None => match args.get(i) {
                Some(a) => {
                    at = i;
                    i += 1;
                    a.clone()
                }
                None => break,
            },
        };
        if arg == "--" {
            // Everything after is an operand, and the program takes none.
            if i < args.len() {
                return Err(Unplaced::at(
                    at,
                    format!(
                        "commander refuses the words after -- ({} declares no arguments)",
                        "@sonar/scan"
                    ),
                ));
            }
            break;
        }
        if variadic && (!maybe_option(&arg) || negative_number(&arg)) {
            defines.push(arg);
            continue;
        }
        variadic = false;
        if maybe_option(&arg) {
            match arg.as_str() {
                "-D" | "--define" => {
                    let Some(value) = args.get(i) else {
                        return Err(Unplaced::at(at, "commander refuses -D without a value"));
                    };
                    i += 1;
                    defines.push(value.clone());
                    variadic = true;
                    continue;
                }
                "-X" | "--debug" => {
                    props.push(("sonar.verbose".into(), "true".into()));
                    continue;
                }
                "-v" | "--version" | "-h" | "--help" => {
                    return Err(Unplaced::at(
                        at,
                        "@sonar/scan prints its version or help and exits",
                    ))
                }
                _ => {}
            }
        }
        let mut chars = arg.chars();
        if let (Some('-'), Some(letter)) = (chars.next(), chars.next()) {
            let tail = chars.as_str();
            if letter != '-' && !tail.is_empty() {
                match letter {
                    'D' => {
                        defines.push(tail.to_owned());
                        continue;
                    }
                    'X' => {
                        props.push(("sonar.verbose".into(), "true".into()));
                        group = Some(format!("-{tail}"));
                        continue;
                    }
                    'v' | 'h' => {
                        return Err(Unplaced::at(
                            at,
                            "@sonar/scan prints its version or help and exits",
                        ))
                    }
                    _ => {}
                }
            }
        }
        if let Some(value) = arg.strip_prefix("--define=") {
            defines.push(value.to_owned());
            continue;
        }
        return Err(Unplaced::at(
            at,
            if maybe_option(&arg) && !negative_number(&arg) {
                "commander stops at an option @sonar/scan does not declare"
            } else {
                "commander refuses a word that is no option's value (@sonar/scan takes no arguments)"
            },
        ));
    }
    for d in defines {
        let (k, v) = d.split_once('=').unwrap_or((d.as_str(), ""));
        props.push((k.to_owned(), v.to_owned()));
    }
    Ok(props)
}

/// commander's "might be an option": more than one character, starting with `-`.
fn maybe_option(arg: &str) -> bool {
    arg.len() > 1 && arg.starts_with('-')
}

/// commander's negative number (`-5`, `-.5`, `-1e3`), which a variadic option still takes.
fn negative_number(arg: &str) -> bool {
    let Some(rest) = arg.strip_prefix('-') else {
        return false;
    };
    let (mantissa, exponent) = match rest.find('e') {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        None => digits(mantissa),
        Some((int, frac)) => (int.is_empty() || digits(int)) && digits(frac),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        digits(e.trim_start_matches(['+', '-']))
            && e.len() <= e.trim_start_matches(['+', '-']).len() + 1
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn scan(words: &[&str]) -> Props {
        read(&args(words)).unwrap_or_else(|u| panic!("{words:?}: {}", u.why))
    }

    fn no_scan(words: &[&str]) -> bool {
        read(&args(words)).is_err()
    }

    fn kv(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn clusters_variadic_values_and_equals_forms() {
        assert_eq!(
            scan(&["-XDsonar.projectKey=other"]),
            kv(&[("sonar.verbose", "true"), ("sonar.projectKey", "other")])
        );
        assert_eq!(
            scan(&[
                "-D",
                "sonar.verbose",
                "sonar.scm.disabled",
                "sonar.projectKey=other"
            ]),
            kv(&[
                ("sonar.verbose", ""),
                ("sonar.scm.disabled", ""),
                ("sonar.projectKey", "other")
            ])
        );
        // A value-taking option takes the next word even when it looks like an option.
        assert_eq!(scan(&["-D", "-X"]), kv(&[("-X", "")]));
        assert_eq!(
            scan(&["--define=a=b=c", "-Da=", "--define", "x=1", "-5"]),
            kv(&[("a", "b=c"), ("a", ""), ("x", "1"), ("-5", "")])
        );
        // The variadic run stops at the next option; an attached -D is not variadic.
        assert!(no_scan(&["-Da=1", "b=2"]));
        assert!(no_scan(&["-D", "a=1", "-Q"]));
        assert!(no_scan(&["--", "-Dsonar.projectKey=x"]));
        assert!(no_scan(&["--defin=x"]));
        assert!(no_scan(&["-D"]));
        assert!(no_scan(&["-Xv"]));
        assert_eq!(scan(&["--"]), kv(&[]));
    }

    #[test]
    fn negative_numbers() {
        for n in ["-5", "-.5", "-1.5", "-1e3", "-2e-4"] {
            assert!(negative_number(n), "{n}");
        }
        for n in ["-", "-e3", "-1.", "-x", "-1e", "5"] {
            assert!(!negative_number(n), "{n}");
        }
    }
}
