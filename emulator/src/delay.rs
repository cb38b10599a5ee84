//! The injected latency, to within a fraction of a millisecond.
//!
//! The runtime's timer (`tokio::time::sleep`) keeps time in whole milliseconds and wakes on the
//! next tick after the deadline, so a 5 ms sleep took about 6 ms here (measured on loopback:
//! median 6.1 ms for `--latency-ms 5`): a benchmark's "L = 5 ms" would then really be 6 ms, and
//! a 10,000-wave run would carry 10 s that no network put there. One thread keeps the pending
//! deadlines in a heap and waits on a channel with a timeout, which the OS honours to within
//! tens of microseconds; each waiting response is woken by a one-shot channel. One thread
//! serves every listener of the emulator, however many responses wait at once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

struct Pending {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The delay thread's mailbox. Dropping every handle ends the thread.
#[derive(Clone)]
pub struct Delays {
    send: mpsc::Sender<(Instant, oneshot::Sender<()>)>,
}

impl Delays {
    pub fn start() -> Delays {
        let (send, receive) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::Builder::new()
            .name("emulator-latency".into())
            .spawn(move || run(receive))
            .expect("the emulator's latency thread starts");
        Delays { send }
    }

    /// Waits `d` from now.
    pub async fn sleep(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        let at = Instant::now() + d;
        let (wake, woken) = oneshot::channel();
        if self.send.send((at, wake)).is_err() {
            // The thread is gone (it never panics; this is shutdown): the runtime's timer.
            tokio::time::sleep_until(at.into()).await;
            return;
        }
        let _ = woken.await;
    }
}

fn run(receive: mpsc::Receiver<(Instant, oneshot::Sender<()>)>) {
    let mut pending: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while pending.peek().is_some_and(|Reverse(p)| p.at <= now) {
            let Reverse(p) = pending.pop().expect("peeked");
            let _ = p.wake.send(());
        }
        let next = match pending.peek() {
            Some(Reverse(p)) => receive.recv_timeout(p.at.saturating_duration_since(now)),
            None => receive
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok((at, wake)) => {
                seq += 1;
                pending.push(Reverse(Pending { at, seq, wake }));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Wake whoever still waits, then end.
                for Reverse(p) in pending.drain() {
                    let _ = p.wake.send(());
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_sleep_lasts_at_least_its_time_however_they_interleave() {
        let delays = Delays::start();
        let start = Instant::now();
        let mut waits = Vec::new();
        for ms in [30u64, 10, 20, 10, 0] {
            let d = delays.clone();
            waits.push(tokio::spawn(async move {
                d.sleep(Duration::from_millis(ms)).await;
                (ms, start.elapsed())
            }));
        }
        for w in waits {
            let (ms, took) = w.await.unwrap();
            assert!(took >= Duration::from_millis(ms), "{ms} ms took {took:?}");
        }
    }
}
