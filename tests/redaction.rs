//! `Debug` of every type that holds the token shows a fingerprint or nothing, never the value.

use scantoken::ci::{CiKind, Context};
use scantoken::credential::{self, Credential};
use scantoken::env::Env;
use scantoken::export::{self, ExportOptions};
use scantoken::inputs::Inputs;
use scantoken::scanner_config::ScannerConfig;
use scantoken::secret::Token;
use scantoken::settings::Settings;
use scantoken::sonar::client::{Client, ClientOptions};

const CANARY: &str = "sqco_CANARYcanaryCANARYcanaryCANARYcanaryCANARYcanaryCANARYcana";

fn assert_redacted(what: &str, text: String) {
    assert!(
        !text.contains(CANARY) && !text.contains("CANARYcanary"),
        "{what} shows the token: {text}"
    );
}

#[test]
fn every_holder_of_the_token_redacts_it() {
    let env = Env::from_pairs([
        ("SONAR_TOKEN", CANARY),
        ("SONAR_ORGANIZATION", "acme"),
        ("SCANTOKEN_PROJECT_KEY", "acme_payments"),
    ]);
    assert_redacted("Env", format!("{env:?}"));
    let inputs = Inputs::new(env.clone());
    assert_redacted("Inputs", format!("{inputs:#?}"));
    // The token given as the token input: the settings hold it, and never show it.
    let with_input = Env::from_pairs([("SCANTOKEN_TOKEN", CANARY)]);
    let settings = Settings::from_env(&with_input).unwrap();
    assert_redacted("Settings", format!("{settings:?} {settings:#?}"));
    let settings = Settings::from_env(&env).unwrap();
    let ctx = Context::new(CiKind::Local);
    let cred: Credential = credential::resolve(
        &settings,
        &env,
        &ctx,
        "acme_payments",
        std::path::Path::new("."),
    )
    .unwrap()
    .unwrap();
    assert_eq!(cred.token.expose_secret(), CANARY);
    assert_redacted("Credential", format!("{cred:?} {cred:#?}"));
    assert_redacted("Credential::describe", cred.describe());
    assert_redacted("Token", format!("{:?}", Token::new(CANARY).unwrap()));

    let scanner = ScannerConfig::load(&env, std::path::Path::new("/nonexistent")).unwrap();
    let target = scantoken::target::resolve(&settings.target, &env, &scanner).unwrap();
    for token_in_json in [false, true] {
        let set = export::build(
            &ctx,
            &target,
            Some(&cred.token),
            &scanner,
            ExportOptions { token_in_json },
        )
        .unwrap();
        assert_redacted("ExportSet", format!("{set:?} {set:#?}"));
        let summary = export::Summary {
            verdict: "ok".into(),
            message: "ok".into(),
            context: ctx.clone(),
            target: target.clone(),
            token: Some(cred.describe()),
            probes: Vec::new(),
            failed: false,
        };
        let dir = tempfile::tempdir().unwrap();
        let github = export::Destinations {
            github_env: Some(dir.path().join("env")),
            github_output: Some(dir.path().join("out")),
            github_step_summary: Some(dir.path().join("summary")),
            output: Some(dir.path().join("exports")),
            include_secrets: true,
        };
        for format in [
            export::Format::Github,
            export::Format::Azure,
            export::Format::Shell,
            export::Format::Dotenv,
            export::Format::Properties,
            export::Format::Json,
        ] {
            let rendered = export::render(format, &set, &summary, &github).unwrap();
            let all = format!(
                "{}{}{}",
                rendered.stdout,
                rendered
                    .appends
                    .iter()
                    .map(|a| a.text.as_str())
                    .collect::<String>(),
                rendered
                    .replace
                    .as_ref()
                    .map(|r| r.text.as_str())
                    .unwrap_or_default()
            );
            assert!(all.contains(CANARY), "{format:?} renders the token");
            assert_redacted("Rendered", format!("{rendered:?} {rendered:#?}"));
            for append in &rendered.appends {
                assert_redacted("Append", format!("{append:?}"));
            }
            if let Some(replace) = &rendered.replace {
                assert_redacted("Replace", format!("{replace:?}"));
            }
        }
        assert!(
            set.variables
                .iter()
                .any(|v| v.value.expose().contains(CANARY)),
            "the value is still there to export"
        );
    }
    let client = Client::new(&env, ClientOptions::default()).unwrap();
    assert_redacted("Client", format!("{client:?}"));
}
