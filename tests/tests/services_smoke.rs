//! Each real test server started by `cargo xtask services up` answers its own
//! protocol: PostgreSQL's startup and a query, MongoDB's `ping` over OP_MSG,
//! DynamoDB's `ListTables` and S3's bucket listing on moto, Redis `SET`/`GET`.
//! Spoken with std only, so this smoke test needs none of the drivers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use proxima_tests::{host_port, service_url, service_var};

fn connect(url: &str) -> TcpStream {
    let stream = TcpStream::connect(host_port(url)).unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).unwrap();
    buf
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

fn le_i32(b: &[u8]) -> i32 {
    i32::from_le_bytes(b[..4].try_into().unwrap())
}

/// One backend message: (type byte, body).
fn pg_message(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let header = read_exact(stream, 5);
    let len = be_u32(&header[1..]) as usize;
    (header[0], read_exact(stream, len - 4))
}

#[test]
fn postgres_answers_a_query() {
    let Some(url) = service_url("POSTGRES") else { return };
    let mut s = connect(&url);
    let mut startup = Vec::new();
    startup.extend(196_608u32.to_be_bytes()); // protocol 3.0
    for part in ["user", "postgres", "database", "postgres"] {
        startup.extend(part.as_bytes());
        startup.push(0);
    }
    startup.push(0);
    let mut msg = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend(startup);
    s.write_all(&msg).unwrap();
    let (kind, body) = pg_message(&mut s);
    assert_eq!((kind, be_u32(&body)), (b'R', 0), "expected AuthenticationOk (trust auth)");
    while pg_message(&mut s).0 != b'Z' {}

    let sql = b"SELECT 20 + 22, version()\0";
    let mut query = vec![b'Q'];
    query.extend(((sql.len() + 4) as u32).to_be_bytes());
    query.extend(sql);
    s.write_all(&query).unwrap();
    let mut row = None;
    loop {
        match pg_message(&mut s) {
            (b'D', body) => row = Some(body),
            (b'E', body) => panic!("query failed: {}", String::from_utf8_lossy(&body)),
            (b'Z', _) => break,
            _ => {}
        }
    }
    let row = row.expect("a data row");
    let first_len = be_u32(&row[2..]) as usize;
    assert_eq!(&row[6..6 + first_len], b"42");
    let version = String::from_utf8_lossy(&row[6 + first_len + 4..]);
    assert!(version.starts_with("PostgreSQL 15"), "server is {version}");
}

/// A BSON document of (name, value) pairs where values are int32 or strings.
fn bson(fields: &[(&str, Result<i32, &str>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        match value {
            Ok(i) => {
                body.push(0x10);
                body.extend(name.as_bytes());
                body.push(0);
                body.extend(i.to_le_bytes());
            }
            Err(s) => {
                body.push(0x02);
                body.extend(name.as_bytes());
                body.push(0);
                body.extend(((s.len() + 1) as i32).to_le_bytes());
                body.extend(s.as_bytes());
                body.push(0);
            }
        }
    }
    body.push(0);
    let mut doc = ((body.len() + 4) as i32).to_le_bytes().to_vec();
    doc.extend(body);
    doc
}

/// The top-level `ok` field of a BSON reply, as a double.
fn bson_ok(doc: &[u8]) -> Option<f64> {
    let mut i = 4;
    while i < doc.len() && doc[i] != 0 {
        let kind = doc[i];
        let name_end = i + 1 + doc[i + 1..].iter().position(|b| *b == 0)?;
        let name = &doc[i + 1..name_end];
        let v = name_end + 1;
        let size = match kind {
            0x01 | 0x09 | 0x11 | 0x12 => 8,
            0x02 | 0x0D | 0x0E => 4 + le_i32(&doc[v..]) as usize,
            0x03 | 0x04 => le_i32(&doc[v..]) as usize,
            0x05 => 5 + le_i32(&doc[v..]) as usize,
            0x07 => 12,
            0x08 => 1,
            0x0A => 0,
            0x10 => 4,
            _ => return None,
        };
        if name == b"ok" {
            return match kind {
                0x01 => Some(f64::from_le_bytes(doc[v..v + 8].try_into().ok()?)),
                0x10 => Some(f64::from(le_i32(&doc[v..]))),
                _ => None,
            };
        }
        i = v + size;
    }
    None
}

#[test]
fn mongodb_wire_server_answers_ping() {
    let Some(url) = service_url("MONGODB") else { return };
    let mut s = connect(&url);
    let doc = bson(&[("ping", Ok(1)), ("$db", Err("admin"))]);
    let mut body = 0u32.to_le_bytes().to_vec(); // flagBits
    body.push(0); // section kind 0: body
    body.extend(&doc);
    let mut msg = ((16 + body.len()) as i32).to_le_bytes().to_vec();
    msg.extend(7i32.to_le_bytes()); // requestID
    msg.extend(0i32.to_le_bytes()); // responseTo
    msg.extend(2013i32.to_le_bytes()); // OP_MSG
    msg.extend(body);
    s.write_all(&msg).unwrap();
    let header = read_exact(&mut s, 16);
    assert_eq!(le_i32(&header[8..]), 7, "reply answers our request");
    assert_eq!(le_i32(&header[12..]), 2013, "reply is OP_MSG");
    let rest = read_exact(&mut s, le_i32(&header) as usize - 16);
    assert_eq!(rest[4], 0, "reply body section");
    assert_eq!(bson_ok(&rest[5..]), Some(1.0), "ping answered ok: 1");
}

/// A plain HTTP/1.1 request; returns (status, body).
fn http(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut s = connect(url);
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        host_port(url),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

const AUTH: &str =
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00";

#[test]
fn moto_answers_dynamodb_and_s3() {
    let Some(url) = service_url("DYNAMODB") else { return };
    let headers = [
        ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
        ("Content-Type", "application/x-amz-json-1.0"),
        ("Authorization", AUTH),
    ];
    let (status, body) = http(&url, "POST", "/", &headers, "{}");
    assert_eq!(status, 200, "ListTables: {body}");
    assert!(body.contains("TableNames"), "ListTables body: {body}");

    let s3 = service_url("S3").expect("S3 runs beside DynamoDB");
    let bucket = service_var("PROXIMA_TEST_S3_BUCKET").expect("bucket name in the env file");
    let (status, body) = http(&s3, "GET", &format!("/{bucket}"), &[], "");
    assert_eq!(status, 200, "ListObjects: {body}");
    assert!(body.contains("ListBucketResult"), "ListObjects body: {body}");
}

#[test]
fn redis_sets_and_gets() {
    let Some(url) = service_url("REDIS") else { return };
    let mut s = connect(&url);
    let key = format!("proxima-smoke-{}", std::process::id());
    let cmd = |args: &[&str]| {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        out
    };
    s.write_all(cmd(&["SET", &key, "hello", "EX", "60"]).as_bytes()).unwrap();
    s.write_all(cmd(&["GET", &key]).as_bytes()).unwrap();
    let expected = b"+OK\r\n$5\r\nhello\r\n";
    let got = read_exact(&mut s, expected.len());
    assert_eq!(got, expected, "got {:?}", String::from_utf8_lossy(&got));
}
