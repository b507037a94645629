//! HTTP/1.1 framing: reading and writing requests and responses (Content-Length, chunked and,
//! for responses, close-delimited bodies). Shared by the server and the fault proxy.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::server::{Request, Response};

const MAX_HEADERS: usize = 96;

fn invalid(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}

/// Read the head (up to and including the blank line); `None` at a clean end of stream.
async fn read_head<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let n = reader.read_until(b'\n', &mut head).await?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(invalid("connection closed inside a message head"))
            };
        }
        if head == b"\r\n" {
            head.clear(); // a stray CRLF between messages
            continue;
        }
        if head.ends_with(b"\r\n\r\n") {
            return Ok(Some(head));
        }
    }
}

fn lower_headers(parsed: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    parsed
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn content_length(headers: &[(String, String)]) -> Option<usize> {
    find(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    find(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// One request, or `None` when the client closed the connection between requests.
pub async fn read_request<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<Request>> {
    let Some(head) = read_head(reader).await? else {
        return Ok(None);
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed.parse(&head).map_err(invalid)?;
    let method = parsed.method.unwrap_or("GET").to_string();
    let target = parsed.path.unwrap_or("/").to_string();
    let headers = lower_headers(parsed.headers);
    let body = if is_chunked(&headers) {
        read_chunked(reader).await?
    } else {
        let mut body = vec![0; content_length(&headers).unwrap_or(0)];
        reader.read_exact(&mut body).await?;
        body
    };
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

/// One response to a request made with `method`. A body without a length runs to the end of
/// the stream (the upstream then closes the connection).
pub async fn read_response<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    method: &str,
) -> std::io::Result<Response> {
    let head = read_head(reader)
        .await?
        .ok_or_else(|| invalid("connection closed before a response"))?;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    parsed.parse(&head).map_err(invalid)?;
    let status = parsed.code.unwrap_or(500);
    let headers = lower_headers(parsed.headers);
    let bodiless = method == "HEAD" || status == 204 || status == 304 || status < 200;
    let body = if bodiless {
        Vec::new()
    } else if is_chunked(&headers) {
        read_chunked(reader).await?
    } else if let Some(len) = content_length(&headers) {
        let mut body = vec![0; len];
        reader.read_exact(&mut body).await?;
        body
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body).await?;
        body
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

async fn read_chunked<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await?;
        let size_hex = line.trim().split(';').next().unwrap_or("0");
        let size = usize::from_str_radix(size_hex, 16).map_err(invalid)?;
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            loop {
                let mut t = String::new();
                let n = reader.read_line(&mut t).await?;
                if n == 0 || t == "\r\n" {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf).await?;
    }
}

/// Hop-by-hop and framing headers: recomputed by whoever writes the message.
fn is_framing(name: &str) -> bool {
    matches!(
        name,
        "content-length" | "transfer-encoding" | "connection" | "keep-alive"
    )
}

/// Write `resp`; `head_only` for an answer to HEAD (headers, no body).
pub async fn write_response<W: AsyncWrite + Unpin>(
    w: &mut W,
    resp: &Response,
    close: bool,
    head_only: bool,
) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    let mut length = None;
    for (k, v) in &resp.headers {
        if k.eq_ignore_ascii_case("content-length") && head_only {
            length = Some(v.clone());
        }
        if !is_framing(&k.to_ascii_lowercase()) {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    let length = length.unwrap_or_else(|| resp.body.len().to_string());
    out.push_str(&format!("content-length: {length}\r\n"));
    if close {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    w.write_all(out.as_bytes()).await?;
    if !head_only {
        w.write_all(&resp.body).await?;
    }
    w.flush().await
}

/// Write `req` to an upstream, asking it to close the connection after answering.
pub async fn write_request<W: AsyncWrite + Unpin>(w: &mut W, req: &Request) -> std::io::Result<()> {
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        if !is_framing(k) {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str(&format!("content-length: {}\r\n", req.body.len()));
    out.push_str("connection: close\r\n\r\n");
    w.write_all(out.as_bytes()).await?;
    w.write_all(&req.body).await?;
    w.flush().await
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    #[tokio::test]
    async fn requests_and_responses_round_trip_with_every_framing() {
        let raw = b"POST /x?a=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let mut r = BufReader::new(&raw[..]);
        let req = read_request(&mut r).await.unwrap().unwrap();
        assert_eq!((req.method.as_str(), req.path()), ("POST", "/x"));
        assert_eq!(req.body, b"abcde");
        assert!(read_request(&mut r).await.unwrap().is_some());
        assert!(read_request(&mut r).await.unwrap().is_none());

        let mut out = Vec::new();
        let resp = Response::new(413, "too big").with_header("x-a", "b");
        write_response(&mut out, &resp, false, false).await.unwrap();
        let back = read_response(&mut BufReader::new(&out[..]), "POST")
            .await
            .unwrap();
        assert_eq!((back.status, back.body.as_slice()), (413, &b"too big"[..]));

        // No length: the body runs to the end of the stream.
        let close_delimited = b"HTTP/1.1 200 OK\r\n\r\nall of it";
        let back = read_response(&mut BufReader::new(&close_delimited[..]), "GET")
            .await
            .unwrap();
        assert_eq!(back.body, b"all of it");
    }
}
