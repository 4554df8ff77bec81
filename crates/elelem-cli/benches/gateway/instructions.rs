//! Instructions per request in `elelem serve`, counted by callgrind (so the
//! number holds on a busy machine, where times do not): the gateway runs under
//! `valgrind --tool=callgrind` twice, answering `WARM_UP` requests and then
//! `short` or `long` more, one after another over one keep-alive connection,
//! and is stopped with SIGTERM. The difference of the two runs' totals divided
//! by `long - short` is what one request costs the whole gateway process (its
//! start, warm-up and shutdown cancel out), the Elelem call inside included.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use elelem_testkit::TestServer;

use super::{set_answer, start_gateway_with, Target};

/// Requests answered before the counted ones in both runs (connections,
/// first-use allocations and caches).
const WARM_UP: u32 = 50;

/// Counts `(short, long)` requests in `mode` and prints and returns the
/// instructions per request; `keep` names a directory for the long run's
/// callgrind file (for `callgrind_annotate`).
pub(super) async fn per_request(
    server: &TestServer,
    dir: &Path,
    http: &reqwest::Client,
    stream: bool,
    (short, long): (u32, u32),
    keep: Option<&str>,
) -> Option<u64> {
    set_answer(server, stream);
    let mode = if stream { "stream" } else { "plain" };
    let a = total(server, dir, http, stream, short, None).await?;
    let out = keep.map(|k| format!("{k}/gateway-{mode}.cg"));
    let b = total(server, dir, http, stream, long, out.as_deref()).await?;
    let per = b.saturating_sub(a) / u64::from(long - short);
    println!(
        "instructions per {mode} request in elelem serve: {per} ({a} for {WARM_UP}+{short}, {b} for {WARM_UP}+{long}){}",
        out.map(|o| format!("; profile in {o}")).unwrap_or_default()
    );
    Some(per)
}

/// The gateway's total instructions for `WARM_UP + n` requests.
async fn total(
    server: &TestServer,
    dir: &Path,
    http: &reqwest::Client,
    stream: bool,
    n: u32,
    out: Option<&str>,
) -> Option<u64> {
    let log = dir.join("callgrind.log");
    let mut valgrind = Command::new("valgrind");
    valgrind
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.unwrap_or("/dev/null")))
        .arg(format!("--log-file={}", log.display()));
    let (child, url, pid) =
        start_gateway_with(server, dir, http, valgrind, Duration::from_secs(120)).await;
    let target = Target::Http {
        name: "elelem serve",
        url,
        auth: None,
        pid,
    };
    let one_by_one = |count: u32| {
        let (target, http) = (&target, http);
        async move {
            for _ in 0..count {
                if target.run(http, stream, 1, 1).await.errors > 0 {
                    return false;
                }
            }
            true
        }
    };
    if !one_by_one(WARM_UP).await || !one_by_one(n).await {
        eprintln!("instructions: a request to the gateway under callgrind failed");
        return None;
    }
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let _ = tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.0.wait()
    })
    .await;
    let text = std::fs::read_to_string(&log).ok()?;
    let collected = text.lines().find_map(|l| {
        let (_, n) = l.split_once("Collected : ")?;
        n.trim().parse::<u64>().ok()
    });
    if collected.is_none() {
        eprintln!("instructions: no total in callgrind's log {}", log.display());
    }
    collected
}
