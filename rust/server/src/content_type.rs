use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use tonic::Status;
use tonic::body::Body;

use crate::grpc_web::ArrivedAsGrpcWeb;

/// The gRPC-Web content types, exactly as tonic-web recognises them: binary
/// and base64 (`-text`), each with or without `+proto`.
const GRPC_WEB_TYPES: [&str; 4] = [
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web-text",
    "application/grpc-web-text+proto",
];

/// Refuses a request that no service here can answer, with a status that
/// says why:
///
/// - a content type that is neither gRPC's nor gRPC-Web's: HTTP 415 with
///   `INVALID_ARGUMENT` and a message naming the type, as the gRPC over HTTP/2
///   spec asks and grpc-go does (tonic alone would decode any body as
///   protobuf);
/// - plain gRPC over HTTP/1.x: HTTP 400 with `INVALID_ARGUMENT`, as grpc-go
///   does, since gRPC's trailers need HTTP/2. Over HTTP/1.1 only gRPC-Web is
///   served; it reaches this check already translated to gRPC and marked
///   [`ArrivedAsGrpcWeb`].
///
/// For tower-http's `ValidateRequestHeaderLayer::custom`.
#[allow(
    clippy::result_large_err,
    reason = "the signature tower-http's ValidateRequest asks for"
)]
pub fn refuse_non_grpc<B>(request: &mut Request<B>) -> Result<(), Response<Body>> {
    let content_type = request.headers().get(header::CONTENT_TYPE);
    if content_type.is_some_and(is_grpc_web) {
        return Ok(());
    }
    if !content_type.is_some_and(is_grpc) {
        let shown = content_type.map_or("none".into(), |value| {
            format!("{:?}", String::from_utf8_lossy(value.as_bytes()))
        });
        return Err(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!(
                "invalid gRPC request content-type {shown}: \
                 expected application/grpc, or application/grpc-web over HTTP/1.1"
            ),
        ));
    }
    if request.version() < Version::HTTP_2
        && request.extensions().get::<ArrivedAsGrpcWeb>().is_none()
    {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            &format!(
                "gRPC needs HTTP/2, this request came over {:?}: \
                 over HTTP/1.1 send gRPC-Web (content-type application/grpc-web)",
                request.version()
            ),
        ));
    }
    Ok(())
}

/// A bare `INVALID_ARGUMENT` status with `message`, as HTTP `status`.
fn refusal(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Status::invalid_argument(message).into_http::<Body>();
    *response.status_mut() = status;
    response
}

/// `application/grpc`, or one of its subtypes such as `application/grpc+proto`.
fn is_grpc(value: &HeaderValue) -> bool {
    let value = value.as_bytes();
    let base = b"application/grpc";
    value.len() >= base.len()
        && value[..base.len()].eq_ignore_ascii_case(base)
        && matches!(value.get(base.len()), None | Some(b'+' | b';'))
}

/// One of the four gRPC-Web content types.
pub(crate) fn is_grpc_web(value: &HeaderValue) -> bool {
    GRPC_WEB_TYPES
        .iter()
        .any(|web| value.as_bytes() == web.as_bytes())
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn check_over(
        version: Version,
        content_type: Option<&'static str>,
    ) -> Result<(), (StatusCode, Code, String)> {
        let mut request = Request::new(());
        *request.version_mut() = version;
        if let Some(value) = content_type {
            request
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        }
        refuse_non_grpc(&mut request).map_err(|response| {
            let status = Status::from_header_map(response.headers()).unwrap();
            (
                response.status(),
                status.code(),
                status.message().to_owned(),
            )
        })
    }

    fn check(content_type: Option<&'static str>) -> Result<(), (StatusCode, Code, String)> {
        check_over(Version::HTTP_2, content_type)
    }

    #[test]
    fn grpc_and_its_subtypes_pass() {
        for value in [
            "application/grpc",
            "application/grpc+proto",
            "Application/GRPC",
        ] {
            assert_eq!(check(Some(value)), Ok(()), "{value}");
        }
    }

    #[test]
    fn the_four_grpc_web_types_pass_over_any_version() {
        for version in [Version::HTTP_11, Version::HTTP_2] {
            for value in GRPC_WEB_TYPES {
                assert_eq!(check_over(version, Some(value)), Ok(()), "{value}");
            }
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_type_named() {
        assert_eq!(
            check(Some("application/json")),
            Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::InvalidArgument,
                "invalid gRPC request content-type \"application/json\": \
                 expected application/grpc, or application/grpc-web over HTTP/1.1"
                    .to_owned()
            ))
        );
        for refused in [
            "application/grpc-webby",
            "application/grpc-json",
            "text/plain",
        ] {
            assert!(check(Some(refused)).is_err(), "{refused}");
        }
        let (status, code, _) = check(None).unwrap_err();
        assert_eq!(
            (status, code),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::InvalidArgument)
        );
    }

    #[test]
    fn plain_grpc_over_http1_is_refused_unless_it_arrived_as_grpc_web() {
        let (status, code, message) =
            check_over(Version::HTTP_11, Some("application/grpc")).unwrap_err();
        assert_eq!(
            (status, code),
            (StatusCode::BAD_REQUEST, Code::InvalidArgument)
        );
        assert!(message.starts_with("gRPC needs HTTP/2"), "{message}");

        let mut translated = Request::new(());
        *translated.version_mut() = Version::HTTP_11;
        translated.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        translated.extensions_mut().insert(ArrivedAsGrpcWeb);
        assert!(refuse_non_grpc(&mut translated).is_ok());
    }
}
