use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::{v1, v1alpha};

use crate::helpers::{channel, spawn_server};

#[tokio::test]
async fn health_reports_the_server_and_the_service_serving() {
    let server = spawn_server().await;
    let mut health = HealthClient::new(channel(&server).await);

    for service in ["", "Recommendations"] {
        let reply = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            reply.status(),
            ServingStatus::Serving,
            "service {service:?}"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reflection_v1_lists_the_services() {
    let server = spawn_server().await;
    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(channel(&server).await);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };

    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().expect("one reply");

    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.message_response
    else {
        panic!("expected a service list, got {reply:?}");
    };
    let names: Vec<_> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    assert!(names.contains(&"Recommendations".to_owned()), "{names:?}");
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reflection_v1alpha_describes_the_contract_file() {
    let server = spawn_server().await;
    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(channel(&server).await);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "Recommendations".to_owned(),
            ),
        ),
    };

    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().expect("one reply");

    let Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
        reply.message_response
    else {
        panic!("expected a file descriptor, got {reply:?}");
    };
    assert_eq!(files.file_descriptor_proto.len(), 1);
    // The serialized FileDescriptorProto names the file and the service.
    let bytes = &files.file_descriptor_proto[0];
    let text = String::from_utf8_lossy(bytes);
    assert!(text.contains("recommendations.proto"));
    assert!(text.contains("RecommendationRequest"));
    server.stop().await.unwrap();
}
