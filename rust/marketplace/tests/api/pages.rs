use std::time::Duration;

use axum::http::{StatusCode, header};
use recommendations_proto::BookCategory;
use recommender::{Catalog, Category};

use crate::helpers::{Backend, Marketplace, escaped};

const DEADLINE: Duration = Duration::from_secs(2);

async fn store() -> (Backend, Marketplace) {
    let backend = Backend::start().await;
    let marketplace = Marketplace::start(backend.addr, DEADLINE).await;
    (backend, marketplace)
}

/// The `<li>` items of a page, in order, as written in the HTML.
fn items(body: &str) -> Vec<&str> {
    body.split("<li>")
        .skip(1)
        .map(|rest| rest.split("</li>").next().unwrap())
        .collect()
}

/// The core's category for a contract one, matched by number.
fn core(category: BookCategory) -> Category {
    let number = i32::from(category);
    Category::ALL
        .into_iter()
        .find(|core| core.value() == number)
        .expect("the core knows every category of the contract")
}

/// The titles the core picks, escaped as a page shows them.
fn expected_items(user: i32, category: BookCategory, max: i32) -> Vec<String> {
    Catalog::notes()
        .recommend(user, core(category), max)
        .unwrap()
        .into_iter()
        .map(|book| escaped(&book.title))
        .collect()
}

#[tokio::test]
async fn the_home_page_has_the_notes_title_and_exactly_three_books() {
    let (_backend, marketplace) = store().await;
    let page = marketplace.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(
        page.body.contains("<title>Online Books For You</title>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<h1>Mystery books you may like</h1>"),
        "{}",
        page.body
    );
    assert_eq!(page.list_items(), 3, "{}", page.body);
    assert_eq!(
        items(&page.body),
        expected_items(1, BookCategory::Mystery, 3)
    );
}

#[tokio::test]
async fn the_home_page_is_the_mystery_shelf() {
    let (_backend, marketplace) = store().await;
    let home = marketplace.get("/").await;
    let mystery = marketplace.get("/category/mystery").await;
    assert_eq!(home.body, mystery.body);
}

#[tokio::test]
async fn each_shelf_lists_the_books_of_its_category() {
    let (_backend, marketplace) = store().await;
    let catalog = Catalog::notes();
    for (path, category) in [
        ("/category/mystery", BookCategory::Mystery),
        ("/category/science-fiction", BookCategory::ScienceFiction),
        ("/category/self-help", BookCategory::SelfHelp),
    ] {
        let page = marketplace.get(&format!("{path}?max=20")).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let shelf: Vec<_> = catalog
            .books(core(category))
            .iter()
            .map(|book| escaped(&book.title))
            .collect();
        let listed = items(&page.body);
        assert_eq!(listed.len(), shelf.len(), "{path}: {listed:?}");
        assert!(
            listed
                .iter()
                .all(|item| shelf.iter().any(|title| title == item)),
            "{path}"
        );
        assert_eq!(listed, expected_items(1, category, 20), "{path}");
    }
}

#[tokio::test]
async fn another_reader_gets_another_selection() {
    let (_backend, marketplace) = store().await;
    let first = expected_items(1, BookCategory::Mystery, 1);
    let other = (2..100)
        .find(|&user| expected_items(user, BookCategory::Mystery, 1) != first)
        .expect("some reader gets another first book");

    let reader_one = marketplace.get("/?user=1&max=1").await;
    let reader_other = marketplace.get(&format!("/?user={other}&max=1")).await;
    assert_eq!(items(&reader_one.body), first);
    assert_eq!(
        items(&reader_other.body),
        expected_items(other, BookCategory::Mystery, 1)
    );
    assert_ne!(items(&reader_one.body), items(&reader_other.body));
    assert_eq!(
        reader_other.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next(),
        Some(format!("user={other}").as_str())
    );
}

#[tokio::test]
async fn the_user_cookie_chooses_the_reader() {
    let (_backend, marketplace) = store().await;
    let page = marketplace
        .get_with_headers("/category/self-help", &[("cookie", "user=42")])
        .await;
    assert_eq!(
        items(&page.body),
        expected_items(42, BookCategory::SelfHelp, 3)
    );
    assert!(!page.headers.contains_key(header::SET_COOKIE));
}

#[tokio::test]
async fn titles_from_the_catalogue_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.json");
    std::fs::write(
        &path,
        r#"{"books": [{"id": 1, "category": "MYSTERY", "title": "<script>alert('owned')</script>"}]}"#,
    )
    .unwrap();
    let backend = Backend::start_with_catalog(&path).await;
    let marketplace = Marketplace::start(backend.addr, DEADLINE).await;
    let page = marketplace.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script"), "{}", page.body);
    assert_eq!(
        items(&page.body),
        ["&lt;script&gt;alert(&#x27;owned&#x27;)&lt;&#x2F;script&gt;"]
    );
}

#[tokio::test]
async fn bad_requests_and_unknown_pages_get_pages_not_bare_errors() {
    let (_backend, marketplace) = store().await;
    let bad = marketplace.get("/category/science-fiction?max=50").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("from 1 to 20"), "{}", bad.body);
    let unknown = marketplace.get("/category/poetry").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("poetry"), "{}", unknown.body);
    let health = marketplace.get("/healthz").await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, "ok")
    );
}
