//! Serving: start on a listener, reload on SIGHUP, shut down gracefully on
//! SIGTERM / Ctrl-C (stop accepting, finish what is in flight, streams up to
//! the grace period, then flush the ledger).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Gateway;

/// A gateway serving in the background.
#[derive(Debug)]
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state.
    pub gateway: Arc<Gateway>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// The base URL of its OpenAI API (`http://ADDR/v1`).
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Shuts down gracefully and waits until it is done (ledger flushed).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Starts the shutdown without waiting; [`Running::finished`] waits.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits until the server has stopped.
    pub async fn finished(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Serves `gateway` on `listener` in a background task until
/// [`Running::shutdown`].
pub fn start(gateway: Arc<Gateway>, listener: TcpListener) -> Running {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(gateway.clone(), listener, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        gateway,
        stop: Some(stop),
        task,
    }
}

/// Serves until `signal`, then shuts down gracefully.
async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    signal: impl Future<Output = ()> + Send + 'static,
) {
    let router = gateway.router();
    let keys_poll = tokio::spawn(poll_keys(gateway.clone()));
    let upkeep = start_upkeep();
    let limits = gateway.loaded().config.gateway.clone();
    let grace = limits.shutdown_grace();
    let mut down = gateway.shutdown.subscribe();
    let hard_stop = async move {
        let _ = down.wait_for(|d| *d).await;
        // Streams end themselves at the grace period; allow a little for them
        // to write their last event.
        tokio::time::sleep(grace + Duration::from_secs(2)).await;
    };
    let notify = gateway.clone();
    let signal = async move {
        signal.await;
        tracing::info!("shutting down: no new connections, finishing the requests in flight");
        notify.begin_shutdown();
    };
    tokio::select! {
        () = accept_loop(listener, router, limits.client_timeout(), signal) => {}
        () = hard_stop => {
            tracing::warn!("connections still open after the grace period were closed");
        }
    }
    keys_poll.abort();
    drop(upkeep);
    let shared = gateway.shared.clone();
    match tokio::task::spawn_blocking(move || shared.close()).await {
        Ok(Ok(())) => tracing::info!("ledger and budgets flushed"),
        Ok(Err(error)) => tracing::error!(%error, "the ledger or budgets could not be flushed"),
        Err(error) => tracing::error!(%error, "the ledger flush task failed"),
    }
}

/// What runs the metrics' histogram upkeep while the gateway serves: its own
/// thread, or a task of the runtime if no thread can be had (the samples must
/// be folded either way, or the memory grows).
enum UpkeepRunner {
    /// Held until the gateway stops; dropping it ends the thread.
    Thread {
        _upkeep: crate::metrics_setup::Upkeep,
    },
    Task(tokio::task::JoinHandle<()>),
}

impl Drop for UpkeepRunner {
    fn drop(&mut self) {
        if let UpkeepRunner::Task(task) = self {
            task.abort();
        }
    }
}

fn start_upkeep() -> UpkeepRunner {
    use crate::metrics_setup::{upkeep, Upkeep, UPKEEP_PERIOD};
    match Upkeep::start(UPKEEP_PERIOD) {
        Ok(upkeep) => UpkeepRunner::Thread { _upkeep: upkeep },
        Err(error) => {
            tracing::warn!(%error, "no thread for the metrics upkeep; it runs on the async runtime");
            UpkeepRunner::Task(tokio::spawn(upkeep(UPKEEP_PERIOD)))
        }
    }
}

/// With `[gateway] database_keys`, reads the keys' database every
/// `keys_poll_secs`, so added and revoked keys take effect in every gateway.
async fn poll_keys(gateway: Arc<Gateway>) {
    if !gateway.has_database_keys() {
        return;
    }
    let every = gateway.loaded().config.gateway.keys_poll();
    loop {
        tokio::time::sleep(every).await;
        let refresher = gateway.clone();
        match tokio::task::spawn_blocking(move || refresher.refresh_keys()).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "the gateway keys could not be read; the last ones read stay");
            }
            Err(error) => tracing::error!(%error, "the key refresh task failed"),
        }
    }
}

/// Accepts HTTP/1 connections until `signal`, then waits for the open ones to
/// finish (idle keep-alive connections are closed at once). A client that has
/// not sent its headers within `header_timeout` is disconnected.
async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    header_timeout: Duration,
    signal: impl Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let mut signal = std::pin::pin!(signal);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut signal => break,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(error) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Answers go out at once, not held back by Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// `elelem serve`: binds `listen`, serves until SIGTERM or Ctrl-C, reloads the
/// configuration on SIGHUP.
pub async fn run(gateway: Arc<Gateway>, listen: &str) -> Result<(), String> {
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        format!("cannot listen on {listen}: {e}; pick a free address with --listen")
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, "elelem gateway listening");
    eprintln!("elelem gateway listening on http://{addr} (OpenAI API at http://{addr}/v1, dashboard at http://{addr}/dashboard)");
    let reloader = gateway.clone();
    #[cfg(unix)]
    let reload_task = {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let gateway = reloader.clone();
                let reloaded = tokio::task::spawn_blocking(move || gateway.reload())
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                match reloaded {
                    Ok(()) => {
                        eprintln!("elelem: configuration reloaded");
                    }
                    Err(error) => {
                        eprintln!("elelem: configuration refused, the old one stays: {error}");
                    }
                }
            }
        })
    };
    #[cfg(not(unix))]
    let reload_task = tokio::spawn(async move {
        let _ = reloader;
    });
    serve(gateway, listener, shutdown_signal()).await;
    reload_task.abort();
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
