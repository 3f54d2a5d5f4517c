//! A TCP proxy a test can stop and start, to take a real server away from a
//! client and bring it back (connections reset, new ones refused) without
//! disturbing the shared server other tests use.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Forwards `127.0.0.1:<port>` to an upstream address while running.
pub struct Proxy {
    port: u16,
    upstream: String,
    running: Option<Running>,
}

struct Running {
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding a fresh local port to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let port = listener.local_addr().expect("local address").port();
        let mut proxy = Self { port, upstream: upstream.to_string(), running: None };
        proxy.run(listener);
        proxy
    }

    /// The local address clients use.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Takes the server away: closes the listener and resets every connection.
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop.store(true, Ordering::SeqCst);
            for s in r.streams.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
            let _ = r.acceptor.join();
        }
    }

    /// Brings the server back on the same port.
    pub fn resume(&mut self) {
        if self.running.is_none() {
            let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("rebind the proxy port");
            self.run(listener);
        }
    }

    fn run(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (stop2, streams2, upstream) = (Arc::clone(&stop), Arc::clone(&streams), self.upstream.clone());
        let acceptor = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect(upstream.parse::<SocketAddr>().expect("upstream address"))
                        else {
                            continue;
                        };
                        let mut held = streams2.lock().unwrap_or_else(|p| p.into_inner());
                        for s in [&client, &server] {
                            if let Ok(clone) = s.try_clone() {
                                held.push(clone);
                            }
                        }
                        pipe(&client, &server);
                        pipe(&server, &client);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        self.running = Some(Running { stop, streams, acceptor });
    }
}

/// Copies bytes from `from` to `to` on a thread until either side closes.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else { return };
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}
