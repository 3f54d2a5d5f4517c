//! The CLI's view of a running server: JSON calls with errors as messages.

use proxima_client::{Connection, address_of, send_json};
use serde_json::Value;

/// A server and the key to use with it.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pub(crate) addr: String,
    key: Option<String>,
}

impl Remote {
    pub(crate) fn new(url: &str, key: Option<String>) -> Result<Self, String> {
        Ok(Self { addr: address_of(url)?, key })
    }

    /// The response body of a successful call; the server's error message otherwise.
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let response = send_json(&self.addr, method, path, body, self.key.as_deref());
        self.answer(method, path, response)
    }

    fn answer(
        &self,
        method: &str,
        path: &str,
        response: std::io::Result<proxima_client::Response>,
    ) -> Result<Value, String> {
        let response = response.map_err(|e| format!("cannot reach http://{}: {e}", self.addr))?;
        let json = response.json();
        if response.status >= 300 {
            let message = json["error"]["message"].as_str().map_or(response.body.clone(), str::to_string);
            return Err(format!("{method} {path}: {} {message}", response.status));
        }
        Ok(json)
    }

    /// A connection kept open across calls (for repeatable requests: searches).
    pub(crate) fn connection(&self) -> KeptConnection {
        KeptConnection { connection: Connection::new(&self.addr), remote: self.clone() }
    }

    /// Whether a collection exists.
    pub(crate) fn has_collection(&self, name: &str) -> Result<bool, String> {
        let response = send_json(&self.addr, "GET", &format!("/v1/collections/{name}"), None, self.key.as_deref())
            .map_err(|e| format!("cannot reach http://{}: {e}", self.addr))?;
        Ok(response.status == 200)
    }
}

/// One kept-open connection to a [`Remote`].
#[derive(Debug)]
pub(crate) struct KeptConnection {
    connection: Connection,
    remote: Remote,
}

impl KeptConnection {
    /// Like [`Remote::call`], on this connection.
    pub(crate) fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let response = self.connection.send_json(method, path, body, self.remote.key.as_deref());
        self.remote.answer(method, path, response)
    }
}
