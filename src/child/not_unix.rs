//! Signals for `scantoken run` where there are no unix signals (Windows): the console
//! delivers Ctrl-C to the whole process group itself, so there is nothing to pass on.

pub(super) struct Signals;

impl Signals {
    pub(super) fn new() -> Signals {
        Signals
    }

    /// Pending for ever: no signal to pass on.
    pub(super) async fn next(&mut self) -> i32 {
        std::future::pending().await
    }
}

pub(super) fn forward(_pid: Option<u32>, _signal: i32) {}

pub(super) fn group_alive(_pid: Option<u32>) -> bool {
    false
}

pub(super) fn kill_group(_pid: Option<u32>, _stderr: &mut dyn std::io::Write) {}
