use recommendations_proto::{BookCategory, RecommendationRequest};
use recommender::{Catalog, Category};
use tonic::Code;

use crate::helpers::{client, spawn_server, spawn_server_with_one_book};

fn request(user_id: i32, category: BookCategory, max_results: i32) -> RecommendationRequest {
    RecommendationRequest {
        user_id,
        category: category.into(),
        max_results,
    }
}

#[tokio::test]
async fn the_notes_request_gets_one_mystery_book() {
    let server = spawn_server().await;
    let mut client = client(&server).await;

    let response = client
        .recommend(request(1, BookCategory::Mystery, 1))
        .await
        .unwrap();

    let books = response.into_inner().recommendations;
    assert_eq!(books.len(), 1);
    assert!((1..=3).contains(&books[0].id));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn answers_over_the_wire_are_the_cores_answers() {
    let server = spawn_server().await;
    let mut client = client(&server).await;
    let catalog = Catalog::notes();

    for user_id in [-5, 0, 1, 2, 1_000, i32::MAX] {
        for category in Category::ALL {
            for max_results in 0..=4 {
                let wire = client
                    .recommend(RecommendationRequest {
                        user_id,
                        category: category.value(),
                        max_results,
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .recommendations;
                let core = catalog.recommend(user_id, category, max_results).unwrap();
                let wire: Vec<_> = wire.into_iter().map(|book| (book.id, book.title)).collect();
                let core: Vec<_> = core
                    .iter()
                    .map(|book| (book.id, book.title.clone()))
                    .collect();
                assert_eq!(wire, core, "user {user_id}, {category}, max {max_results}");
            }
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_category_is_not_found() {
    let server = spawn_server().await;
    let mut client = client(&server).await;

    let status = client
        .recommend(RecommendationRequest {
            user_id: 1,
            category: 42,
            max_results: 3,
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "Category not found");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_negative_max_results_is_an_invalid_argument() {
    let server = spawn_server().await;
    let mut client = client(&server).await;

    let status = client
        .recommend(request(1, BookCategory::SelfHelp, -3))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "max_results must be zero or more, got -3");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_catalogue_file_replaces_the_notes_books() {
    let server = spawn_server_with_one_book().await;
    let mut client = client(&server).await;

    let books = client
        .recommend(request(1, BookCategory::SelfHelp, 5))
        .await
        .unwrap()
        .into_inner()
        .recommendations;
    let mysteries = client
        .recommend(request(1, BookCategory::Mystery, 5))
        .await
        .unwrap()
        .into_inner()
        .recommendations;

    assert_eq!(books.len(), 1);
    assert_eq!((books[0].id, books[0].title.as_str()), (100, "Deep Work"));
    assert!(mysteries.is_empty());
    server.stop().await.unwrap();
}
