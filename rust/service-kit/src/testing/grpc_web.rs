//! A gRPC-Web client for integration tests: raw POSTs over HTTP/1.1, framed
//! and taken apart by hand as a browser's script does, so that a test sees
//! the wire itself (status line, headers, trailer frame), not a library's
//! view of it.

use std::fmt::Debug;
use std::net::SocketAddr;

use http::{HeaderMap, HeaderName, Request, Response, StatusCode, Version, header};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use prost::bytes::Bytes;
use tonic::Status;

/// An answer over HTTP/1.1, kept whole so that a test can check the HTTP
/// layer before the gRPC one.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status: 200 for every gRPC-Web answer, errors included.
    pub status: StatusCode,
    /// The HTTP version the server answered with.
    pub version: Version,
    /// The response headers; a trailers-only answer carries `grpc-status` here.
    pub headers: HeaderMap,
    /// The body: gRPC-Web frames, or whatever a refusal sent.
    pub body: Bytes,
}

/// A gRPC-Web answer taken apart.
#[derive(Debug)]
pub struct Call {
    /// The response headers.
    pub headers: HeaderMap,
    /// The data frames' payloads, still encoded.
    pub messages: Vec<Bytes>,
    /// The call's outcome, `Code::Ok` included, read by tonic from the
    /// trailer frame or, for a trailers-only answer, the headers.
    pub status: Status,
}

/// POSTs `body` over HTTP/1.1 to `path` at `addr`, with `content_type` and
/// `headers`. A new client each time: calls share no connection.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::post(format!("http://{addr}{path}"))
        .version(Version::HTTP_11)
        .header(header::CONTENT_TYPE, content_type);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .expect("an HTTP answer");
    Answer::read(response).await
}

/// `message` in gRPC's 5-byte frame: a flag byte (0, uncompressed), the
/// length (big-endian), the message.
#[must_use]
pub fn frame(message: &impl Message) -> Vec<u8> {
    let encoded = message.encode_to_vec();
    let mut framed = vec![0];
    framed.extend(u32::try_from(encoded.len()).unwrap().to_be_bytes());
    framed.extend(encoded);
    framed
}

impl Answer {
    /// Reads `response` whole, for a test that sent its request another way
    /// than [`post`] (over TLS, say).
    pub async fn read<B>(response: Response<B>) -> Self
    where
        B: Body,
        B::Error: Debug,
    {
        let (parts, body) = response.into_parts();
        Self {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body: body.collect().await.expect("the whole body").to_bytes(),
        }
    }

    /// Splits the body into its data frames and its trailer frame (flag
    /// 0x80, `name:value` lines), and reads the call's status from the
    /// trailers over the headers. Panics when there is no `grpc-status`.
    #[must_use]
    pub fn decode(&self) -> Call {
        let mut rest = self.body.clone();
        let mut messages = Vec::new();
        let mut fields = self.headers.clone();
        while !rest.is_empty() {
            let length = u32::from_be_bytes(rest[1..5].try_into().unwrap());
            let end = 5 + usize::try_from(length).unwrap();
            let payload = rest.slice(5..end);
            if rest[0] & 0x80 == 0 {
                messages.push(payload);
            } else {
                let trailers = std::str::from_utf8(&payload).expect("UTF-8 trailers");
                for line in trailers.split("\r\n") {
                    if let Some((name, value)) = line.split_once(':') {
                        fields.insert(
                            HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                            value.trim().parse().unwrap(),
                        );
                    }
                }
            }
            rest = rest.slice(end..);
        }
        Call {
            status: Status::from_header_map(&fields).expect("a gRPC status"),
            headers: self.headers.clone(),
            messages,
        }
    }
}

impl Call {
    /// The one message of a unary call's answer, decoded.
    #[must_use]
    pub fn unary<M: Message + Default>(&self) -> M {
        assert_eq!(self.messages.len(), 1, "{self:?}");
        M::decode(self.messages[0].clone()).expect("a well-formed message")
    }
}
