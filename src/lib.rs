//! scantoken: hand a Sonar scan its token in CI.
//!
//! Data flows one way through five stages (see docs/design.md):
//! environment → [`ci::Context`] → [`target::Target`] → [`credential::Credential`] →
//! verdict → [`export::ExportSet`], rendered by one writer per format. Only the credential and
//! verdict stages may touch the network.

pub mod audit;
pub mod child;
pub mod ci;
pub mod cli;
pub mod credential;
pub mod date;
pub mod env;
pub mod error;
pub mod export;
pub mod flow;
pub mod inputs;
pub mod network;
pub mod options;
pub mod output;
pub mod projects;
pub mod read;
pub mod report;
pub mod scanner_command;
pub mod scanner_config;
pub mod secret;
pub mod settings;
pub mod sonar;
pub mod target;
pub mod trust;
