//! `Debug` of every type that holds the token shows a fingerprint or nothing, never the value.

use scantoken::ci::{CiKind, Context};
use scantoken::credential::{self, Credential};
use scantoken::env::Env;
use scantoken::export::{self, ExportOptions};
use scantoken::inputs::Inputs;
use scantoken::scanner_config::ScannerConfig;
use scantoken::secret::Token;
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
    let ctx = Context::new(CiKind::Local);
    let cred: Credential =
        credential::resolve(&inputs, &ctx, "acme_payments", std::path::Path::new("."))
            .unwrap()
            .unwrap();
    assert_eq!(cred.token.expose_secret(), CANARY);
    assert_redacted("Credential", format!("{cred:?} {cred:#?}"));
    assert_redacted("Credential::describe", cred.describe());
    assert_redacted("Token", format!("{:?}", Token::new(CANARY).unwrap()));

    let scanner = ScannerConfig::load(&env, std::path::Path::new("/nonexistent")).unwrap();
    let target = scantoken::target::resolve(&inputs, &scanner).unwrap();
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
