#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response: status and body text.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

impl Response {
    /// The body parsed as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends one request (`Connection: close`) with optional extra headers and body.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    // A flush that builds a large index can take minutes.
    request_within(addr, method, path, headers, body, Duration::from_secs(900))
}

/// [`request`], failing with `TimedOut` when the answer takes longer than `timeout`.
pub fn request_within(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> std::io::Result<Response> {
    let mut stream = connect(addr, timeout)?;
    write_request(&mut stream, addr, method, path, headers, body, true)?;
    read_response(&mut BufReader::new(stream)).map(|(response, _)| response)
}

fn connect(addr: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn write_request(
    stream: &mut TcpStream,
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if close {
        head.push_str("Connection: close\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(body) = body {
        // The server may answer (413) and close before reading everything.
        let _ = stream.write_all(body);
    }
    Ok(())
}

/// Reads one response; also says whether the connection can carry another
/// (the body's end was known from its length or chunks).
fn read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<(Response, bool)> {
    let mut status_line = String::new();
    if reader.read_line(&mut status_line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server closed the connection"));
    }
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let (mut length, mut chunked, mut closing) = (None, false, false);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            "connection" => closing = value.trim().eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    let reusable = if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).map_err(std::io::Error::other)?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        true
    } else if let Some(n) = length {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
        true
    } else {
        reader.read_to_end(&mut body)?;
        false
    };
    Ok((Response { status, body: String::from_utf8_lossy(&body).into_owned() }, reusable && !closing))
}

/// One connection kept open across requests, for clients that send many
/// (benchmarks): it reconnects when the server has closed it. A request the
/// server closed the connection on before answering is sent again once, so
/// use it for requests that may be repeated (reads, searches).
#[derive(Debug)]
pub struct Connection {
    addr: String,
    reader: Option<BufReader<TcpStream>>,
}

impl Connection {
    /// A connection to `addr` (`host:port`), opened on first use.
    pub fn new(addr: &str) -> Self {
        Self { addr: addr.to_string(), reader: None }
    }

    /// A JSON request on this connection, with `Authorization: Bearer KEY` when a key is given.
    pub fn send_json(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        api_key: Option<&str>,
    ) -> std::io::Result<Response> {
        let request = JsonRequest::new(body, api_key)?;
        let headers = request.headers();
        let mut retried = false;
        loop {
            let kept = self.reader.take();
            let reused = kept.is_some();
            let mut reader = match kept {
                Some(reader) => reader,
                None => BufReader::new(connect(&self.addr, Duration::from_secs(900))?),
            };
            let sent = write_request(reader.get_mut(), &self.addr, method, path, &headers, request.body(), false)
                .and_then(|_| read_response(&mut reader));
            match sent {
                Ok((response, reusable)) => {
                    if reusable {
                        self.reader = Some(reader);
                    }
                    return Ok(response);
                }
                // A kept connection the server had closed: once more on a new one.
                Err(e) if reused && !retried && e.kind() == std::io::ErrorKind::UnexpectedEof => retried = true,
                Err(e) => return Err(e),
            }
        }
    }
}

/// A JSON body and the headers that go with it.
struct JsonRequest {
    bytes: Option<Vec<u8>>,
    auth: Option<String>,
}

impl JsonRequest {
    fn new(body: Option<&serde_json::Value>, api_key: Option<&str>) -> std::io::Result<Self> {
        let bytes = body.map(serde_json::to_vec).transpose().map_err(std::io::Error::other)?;
        Ok(Self { bytes, auth: api_key.map(|k| format!("Bearer {k}")) })
    }

    /// `Content-Type` with a body, `Authorization: Bearer KEY` with a key.
    fn headers(&self) -> Vec<(&str, &str)> {
        let mut headers = Vec::new();
        if self.bytes.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        if let Some(auth) = &self.auth {
            headers.push(("Authorization", auth.as_str()));
        }
        headers
    }

    fn body(&self) -> Option<&[u8]> {
        self.bytes.as_deref()
    }
}

/// A JSON request, with `Authorization: Bearer KEY` when a key is given.
pub fn send_json(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    api_key: Option<&str>,
) -> std::io::Result<Response> {
    let request = JsonRequest::new(body, api_key)?;
    self::request(addr, method, path, &request.headers(), request.body())
}

/// A JSON request; panics on transport errors (tests want to see them).
pub fn json(addr: &str, method: &str, path: &str, body: Option<&serde_json::Value>) -> Response {
    send_json(addr, method, path, body, None).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// `host:port` from `http://host:port[/]`; other schemes are refused.
pub fn address_of(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("`{url}`: only http:// URLs are supported"))?;
    let addr = rest.trim_end_matches('/');
    if addr.is_empty() || addr.contains('/') {
        return Err(format!("`{url}` is not http://host:port"));
    }
    Ok(addr.to_string())
}
