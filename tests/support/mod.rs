//! Readers that follow each CI's documented rules (docs/sonar-facts.md §6), written from those rules and
//! not from our writers, so the writers' tests check what the runner or agent would see.
#![allow(dead_code)]

pub mod azure_agent;
pub mod github_runner;
