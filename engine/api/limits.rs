//! What keeps slow or greedy clients from starving the others: the accept loop with a
//! connection cap (`MAX_CONNECTIONS`; more wait in the listen backlog), a deadline for a
//! connection's first request and hyper's header-read timeout for later ones
//! (`HEADER_READ_TIMEOUT_S`), and the count of chats per client address
//! (`MAX_CHATS_PER_IP`). The body deadline (`BODY_READ_TIMEOUT_S`) is a router layer.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::settings::Limits;

/// Chats running per client address.
#[derive(Default)]
pub struct ChatsPerIp {
    running: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One running chat of an address; the count drops with it.
pub struct ChatSlot {
    running: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl ChatsPerIp {
    /// A slot for `ip`, or None when it already runs `max` chats (0: no limit).
    pub fn enter(&self, ip: IpAddr, max: usize) -> Option<ChatSlot> {
        let mut map = self.running.lock().expect("chats per ip");
        let n = map.entry(ip).or_default();
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(ChatSlot {
            running: self.running.clone(),
            ip,
        })
    }
}

impl Drop for ChatSlot {
    fn drop(&mut self) {
        let mut map = self.running.lock().expect("chats per ip");
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then lets
/// open connections finish (their handlers see the shutdown through the app state).
/// Each request carries `ConnectInfo<SocketAddr>`.
pub async fn serve_with_limits(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let stop = CancellationToken::new();
    // Every connection holds a receiver; all dropped means all connections ended.
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            router: router.clone(),
            peer,
            first_request_within: limits.header_read_timeout,
            stop: stop.clone(),
        };
        let done = done_rx.clone();
        tokio::spawn(async move {
            conn.run(stream).await;
            drop((permit, done));
        });
    }
    drop(listener);
    stop.cancel();
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

struct Connection {
    router: Router,
    peer: SocketAddr,
    first_request_within: Duration,
    stop: CancellationToken,
}

impl Connection {
    async fn run(self, stream: tokio::net::TcpStream) {
        let Connection {
            router,
            peer,
            first_request_within,
            stop,
        } = self;
        let served = Arc::new(AtomicBool::new(false));
        let seen = served.clone();
        let svc =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                seen.store(true, Ordering::Relaxed);
                req.extensions_mut().insert(ConnectInfo(peer));
                tower::ServiceExt::oneshot(router.clone(), req.map(axum::body::Body::new))
            });
        let mut builder = Builder::new(TokioExecutor::new());
        // hyper times the headers of every request after the first; the deadline below
        // covers the first, protocol detection included (a client that sends nothing).
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(first_request_within);
        builder.http2().timer(TokioTimer::new());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
        tokio::pin!(conn);
        let first = tokio::time::sleep(first_request_within);
        tokio::pin!(first);
        let (mut stopping, mut first_over) = (false, false);
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                    return;
                }
                // The condition is read when the select starts, so check again on firing.
                _ = &mut first, if !first_over => {
                    first_over = true;
                    if !served.load(Ordering::Relaxed) {
                        tracing::debug!(%peer, "no request within the header timeout; closing");
                        return;
                    }
                }
                _ = stop.cancelled(), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The warning to log when the server listens beyond loopback with no API key.
pub fn exposure_warning(addr: &SocketAddr, has_key: bool) -> Option<String> {
    (!addr.ip().is_loopback() && !has_key).then(|| {
        format!(
            "listening on {addr}, reachable from other machines, with no API_KEY: anyone who can connect can read every thread; set API_KEY, or HOST=127.0.0.1"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chats_per_ip_are_counted_and_released() {
        let chats = ChatsPerIp::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let a = chats.enter(ip, 2).unwrap();
        let _b = chats.enter(ip, 2).unwrap();
        assert!(chats.enter(ip, 2).is_none());
        assert!(chats.enter(other, 2).is_some());
        drop(a);
        assert!(chats.enter(ip, 2).is_some());
        assert!(chats.enter(ip, 0).is_some(), "0 is no limit");
    }

    #[test]
    fn only_an_open_address_without_a_key_is_warned_about() {
        let open: SocketAddr = "0.0.0.0:7860".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:7860".parse().unwrap();
        assert!(exposure_warning(&open, false).is_some());
        assert!(exposure_warning(&open, true).is_none());
        assert!(exposure_warning(&local, false).is_none());
        assert!(exposure_warning(&"[::1]:7860".parse().unwrap(), false).is_none());
    }
}
