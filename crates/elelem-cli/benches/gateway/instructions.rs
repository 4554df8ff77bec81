//! Instructions per request in `elelem serve`, counted by callgrind (so the
//! number holds on a busy machine, where times do not): the gateway runs under
//! `valgrind --tool=callgrind`, answers `WARM_UP` requests, has its counters
//! zeroed (`callgrind_control -z`), answers `n` more, one after another over
//! one keep-alive connection, and has its counters dumped. The dump's total
//! divided by `n` is what one request costs the whole gateway process (every
//! thread, the Elelem call inside included); its start, which varies with the
//! clock calibration of the metrics exporter, is not counted.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use elelem_testkit::TestServer;

use super::{set_answer, start_gateway_with, Target};

/// Requests answered before counting starts (connections, first-use
/// allocations and caches).
const WARM_UP: u32 = 50;

/// Counts `n` requests in `mode` with `workers` worker threads in the gateway
/// (`None`: its default), prints and returns the instructions per request;
/// `keep` names a directory for the profile of the counted requests (for
/// `callgrind_annotate`).
pub(super) async fn per_request(
    server: &TestServer,
    dir: &Path,
    http: &reqwest::Client,
    stream: bool,
    n: u32,
    workers: Option<&str>,
    keep: Option<&str>,
) -> Option<u64> {
    set_answer(server, stream);
    let mode = if stream { "stream" } else { "plain" };
    let base = match keep {
        Some(keep) => format!("{keep}/gateway-{mode}.cg"),
        None => dir.join(format!("gateway-{mode}.cg")).display().to_string(),
    };
    let mut valgrind = Command::new("valgrind");
    valgrind
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={base}"))
        .arg(format!(
            "--log-file={}",
            dir.join("callgrind.log").display()
        ));
    let (child, url, pid) = start_gateway_with(
        server,
        dir,
        http,
        valgrind,
        workers,
        Duration::from_secs(120),
    )
    .await;
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
    let control = |args: &[&str]| {
        let status = Command::new("callgrind_control")
            .args(args)
            .arg(pid.to_string())
            .stdout(std::process::Stdio::null())
            .status();
        status.is_ok_and(|s| s.success())
    };
    let counted = one_by_one(WARM_UP).await
        && control(&["-z"])
        && one_by_one(n).await
        && control(&["--dump=counted"]);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.0.wait()
    })
    .await;
    if !counted {
        eprintln!(
            "instructions: a request to the gateway under callgrind, or callgrind_control, failed"
        );
        return None;
    }
    let dump = format!("{base}.1");
    let total = std::fs::read_to_string(&dump).ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("totals: "))
            .and_then(|n| n.trim().parse::<u64>().ok())
    });
    let Some(total) = total else {
        eprintln!("instructions: no total in callgrind's dump {dump}");
        return None;
    };
    let per = total / u64::from(n);
    println!(
        "instructions per {mode} request in elelem serve: {per} ({total} for {n} after {WARM_UP} of warm-up){}",
        keep.map(|_| format!("; profile in {dump}")).unwrap_or_default()
    );
    Some(per)
}
