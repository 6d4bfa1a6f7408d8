use http::{HeaderValue, Request, Response, StatusCode, header};
use tonic::Status;
use tonic::body::Body;

/// Refuses a request whose content type is not gRPC's, as the gRPC over
/// HTTP/2 spec asks and grpc-go does: HTTP 415 with `INVALID_ARGUMENT` and a
/// message naming the type. tonic alone would decode any body as protobuf.
/// For tower-http's `ValidateRequestHeaderLayer::custom`.
#[allow(
    clippy::result_large_err,
    reason = "the signature tower-http's ValidateRequest asks for"
)]
pub fn refuse_non_grpc<B>(request: &mut Request<B>) -> Result<(), Response<Body>> {
    let content_type = request.headers().get(header::CONTENT_TYPE);
    if content_type.is_some_and(is_grpc) {
        return Ok(());
    }
    let shown = content_type.map_or("none".into(), |value| {
        format!("{:?}", String::from_utf8_lossy(value.as_bytes()))
    });
    let mut response = Status::invalid_argument(format!(
        "invalid gRPC request content-type {shown}: expected application/grpc"
    ))
    .into_http::<Body>();
    *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    Err(response)
}

/// `application/grpc`, or one of its subtypes such as `application/grpc+proto`.
fn is_grpc(value: &HeaderValue) -> bool {
    let value = value.as_bytes();
    let base = b"application/grpc";
    value.len() >= base.len()
        && value[..base.len()].eq_ignore_ascii_case(base)
        && matches!(value.get(base.len()), None | Some(b'+' | b';'))
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn check(content_type: Option<&'static str>) -> Result<(), (StatusCode, Code, String)> {
        let mut request = Request::new(());
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
    fn anything_else_is_refused_with_the_type_named() {
        assert_eq!(
            check(Some("application/json")),
            Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::InvalidArgument,
                "invalid gRPC request content-type \"application/json\": expected application/grpc"
                    .to_owned()
            ))
        );
        assert!(check(Some("application/grpc-web")).is_err());
        assert!(check(None).is_err());
    }
}
