use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use recommendations_proto::recommendations_client::RecommendationsClient;
use recommendations_proto::{BookCategory, RecommendationRequest, RecommendationResponse};
use recommendations_server::{Application, Config, StartupError};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use service_kit::testing::grpc_web::{Answer, frame};
use tempfile::TempDir;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tonic::body::Body;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::helpers::{TestServer, spawn_server_with};

/// A throwaway CA, a server certificate for localhost and 127.0.0.1, and
/// client certificates from that CA and from another one, as PEM files.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca, ca_issuer) = authority("Bookstore test CA");
        let (_, other_issuer) = authority("Some other CA");
        write(dir.path(), "ca.pem", &ca.pem());
        leaf(
            dir.path(),
            "server",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca_issuer,
        );
        leaf(
            dir.path(),
            "client",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca_issuer,
        );
        leaf(
            dir.path(),
            "other-client",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            &other_issuer,
        );
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    fn config(&self, mutual: bool) -> Config {
        let mut config = Config::listening_on("127.0.0.1:0".parse().unwrap());
        config.tls_cert = Some(self.path("server.pem"));
        config.tls_key = Some(self.path("server.key"));
        config.client_ca = mutual.then(|| self.path("ca.pem"));
        config
    }

    /// A client trusting the test CA, presenting `identity` ("client" or
    /// "other-client") when given.
    fn endpoint(&self, server: &TestServer, identity: Option<&str>) -> Endpoint {
        let mut tls =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(self.read("ca.pem")));
        if let Some(name) = identity {
            tls = tls.identity(Identity::from_pem(
                self.read(&format!("{name}.pem")),
                self.read(&format!("{name}.key")),
            ));
        }
        // The IP address, not a name: the server certificate's IP SAN is checked.
        Endpoint::from_shared(format!("https://{}", server.addr))
            .unwrap()
            .tls_config(tls)
            .unwrap()
    }
}

fn authority(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert, Issuer::new(params, key))
}

fn leaf(
    dir: &Path,
    name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) {
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(|&name| name.to_owned())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    write(dir, &format!("{name}.pem"), &cert.pem());
    write(dir, &format!("{name}.key"), &key.serialize_pem());
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// One Recommend call over `endpoint`; the error text when the connection or
/// the call fails (under TLS 1.3 a refused client certificate surfaces at the
/// first call, not at connect).
async fn call(endpoint: Endpoint) -> Result<usize, String> {
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| format!("{error:?}"))?;
    RecommendationsClient::new(channel)
        .recommend(RecommendationRequest {
            user_id: 1,
            category: 0,
            max_results: 2,
        })
        .await
        .map(|response| response.into_inner().recommendations.len())
        .map_err(|status| format!("{status:?}"))
}

#[tokio::test]
async fn a_tls_call_works() {
    let pki = Pki::new();
    let server = spawn_server_with(pki.config(false)).await;

    assert_eq!(call(pki.endpoint(&server, None)).await, Ok(2));

    // Plaintext is not served on a TLS port.
    let plain = Endpoint::from_shared(format!("http://{}", server.addr)).unwrap();
    assert!(call(plain).await.is_err());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_accepts_a_client_of_the_ca_only() {
    let pki = Pki::new();
    let server = spawn_server_with(pki.config(true)).await;

    assert_eq!(call(pki.endpoint(&server, Some("client"))).await, Ok(2));
    assert!(call(pki.endpoint(&server, None)).await.is_err());
    assert!(
        call(pki.endpoint(&server, Some("other-client")))
            .await
            .is_err()
    );
    server.stop().await.unwrap();
}

async fn start_up_error(config: &Config) -> String {
    let error = Application::build(config).await.unwrap_err();
    assert!(matches!(error, StartupError::Tls(_)), "{error:?}");
    error.to_string()
}

#[tokio::test]
async fn a_garbage_key_stops_start_up_with_the_file_named() {
    let pki = Pki::new();
    write(pki.dir.path(), "server.key", "-----BEGIN NONSENSE-----\n");

    let message = start_up_error(&pki.config(false)).await;

    let key = pki.path("server.key").display().to_string();
    assert!(message.contains(&key), "{message}");
    assert!(message.contains("--tls-key"), "{message}");
}

#[tokio::test]
async fn a_key_of_another_certificate_is_refused_with_the_files_named() {
    let pki = Pki::new();
    let mut config = pki.config(false);
    config.tls_key = Some(pki.path("client.key"));

    let message = start_up_error(&config).await;

    assert!(
        message.contains(&pki.path("client.key").display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&pki.path("server.pem").display().to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreadable_client_ca_is_named() {
    let pki = Pki::new();
    let mut config = pki.config(true);
    config.client_ca = Some(pki.path("missing-ca.pem"));

    let message = start_up_error(&config).await;

    assert!(
        message.starts_with(&format!(
            "cannot read the client CA file (--client-ca) {}",
            pki.path("missing-ca.pem").display()
        )),
        "{message}"
    );
}

#[tokio::test]
async fn grpc_web_is_served_over_tls_on_http2() {
    let pki = Pki::new();
    let server = spawn_server_with(pki.config(false)).await;
    let channel = pki.endpoint(&server, None).connect().await.unwrap();
    // gRPC-Web framing over the TLS channel's HTTP/2, as a browser sends it
    // to a TLS origin (the server's ALPN prefers h2).
    let web = tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebClientLayer::new())
        .map_request(|request: http::Request<tonic_web::GrpcWebCall<Body>>| request.map(Body::new))
        .service(channel);

    let status = RecommendationsClient::new(web)
        .recommend(RecommendationRequest {
            user_id: 1,
            category: 7,
            max_results: 2,
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(status.message(), "Category not found");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn grpc_web_is_served_over_tls_on_http1_to_a_client_that_offers_only_it() {
    let pki = Pki::new();
    let server = spawn_server_with(pki.config(false)).await;
    let mut roots = RootCertStore::empty();
    for root in CertificateDer::pem_slice_iter(&pki.read("ca.pem")) {
        roots.add(root.unwrap()).unwrap();
    }
    let mut tls = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let stream = TlsConnector::from(Arc::new(tls))
        .connect(ServerName::IpAddress(server.addr.ip().into()), tcp)
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);

    let asked = RecommendationRequest {
        user_id: 1,
        category: BookCategory::Mystery.into(),
        max_results: 2,
    };
    let request = http::Request::post("/Recommendations/Recommend")
        .header(http::header::HOST, server.addr.to_string())
        .header(http::header::CONTENT_TYPE, "application/grpc-web+proto")
        .body(Full::new(Bytes::from(frame(&asked))))
        .unwrap();
    let answer = Answer::read(sender.send_request(request).await.unwrap()).await;

    assert_eq!(answer.status, http::StatusCode::OK);
    assert_eq!(answer.version, http::Version::HTTP_11);
    let call = answer.decode();
    assert_eq!(call.status.code(), tonic::Code::Ok, "{:?}", call.status);
    let books: RecommendationResponse = call.unary();
    assert_eq!(books.recommendations.len(), 2);
    server.stop().await.unwrap();
}
