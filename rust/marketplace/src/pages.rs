//! The HTML pages: the templates (embedded in the binary, autoescaped) and
//! rendering.

use std::sync::LazyLock;

use recommendations_proto::BookCategory;
use serde::Serialize;
use tera::Tera;

use crate::selection::{DEFAULT_MAX, DEFAULT_USER, MAX_RESULTS};
use crate::shelves;

/// The stylesheet served at `/static/style.css`.
pub const STYLESHEET: &str = include_str!("../static/style.css");

/// The `/live` page's script served at `/static/live.js`: the committed
/// esbuild bundle of `ts/web/live.ts`, an ES module.
pub const LIVE_SCRIPT: &str = include_str!("../static/live.js");

/// The templates, parsed once. Their names end in `.html`, which turns
/// autoescaping on: book titles come from a catalogue file and must never
/// become markup.
static TEMPLATES: LazyLock<Tera> =
    LazyLock::new(|| templates().expect("the embedded templates parse (tested)"));

fn templates() -> Result<Tera, tera::Error> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_templates([
        ("base.html", include_str!("../templates/base.html")),
        ("category.html", include_str!("../templates/category.html")),
        ("error.html", include_str!("../templates/error.html")),
        ("live.html", include_str!("../templates/live.html")),
    ])?;
    Ok(tera)
}

/// A book as a page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BookView {
    /// The catalogue id.
    pub id: i32,
    /// The title, as the catalogue spells it (escaped when rendered).
    pub title: String,
}

/// What a category page shows.
#[derive(Debug, Clone)]
pub struct CategoryPage {
    /// The shelf shown.
    pub category: BookCategory,
    /// The reader the books were picked for.
    pub user: i32,
    /// How many books were asked for.
    pub max: i32,
    /// The books, in the service's order.
    pub books: Vec<BookView>,
}

#[derive(Serialize)]
struct NavLink {
    label: &'static str,
    /// Already HTML-escaped: built only from fixed paths and numbers.
    href_html: String,
    current: bool,
}

/// The links between the shelves. They keep a non-default reader and count,
/// so a reader browsing the shelves keeps their own picks.
fn nav(current: Option<BookCategory>, user: i32, max: i32) -> Vec<NavLink> {
    let query = match (user == DEFAULT_USER, max == DEFAULT_MAX) {
        (true, true) => String::new(),
        (false, true) => format!("?user={user}"),
        (true, false) => format!("?max={max}"),
        (false, false) => format!("?user={user}&amp;max={max}"),
    };
    shelves::ALL
        .into_iter()
        .map(|category| NavLink {
            label: shelves::label(category),
            href_html: format!("{}{query}", shelves::path(category)),
            current: current == Some(category),
        })
        .collect()
}

/// Renders a category page. The mystery page reads "Mystery books you may
/// like", as the notes' homepage does.
pub fn render_category(page: &CategoryPage) -> Result<String, tera::Error> {
    let mut context = tera::Context::new();
    context.insert(
        "heading",
        &format!("{} books you may like", shelves::label(page.category)),
    );
    context.insert("recommendations", &page.books);
    context.insert("user", &page.user);
    context.insert("max", &page.max);
    context.insert("max_min", MAX_RESULTS.start());
    context.insert("max_max", MAX_RESULTS.end());
    context.insert("nav", &nav(Some(page.category), page.user, page.max));
    TEMPLATES.render("category.html", &context)
}

/// A shelf as the live page's `<select>` offers it: the contract's number
/// is what the browser sends.
#[derive(Serialize)]
struct ShelfOption {
    value: i32,
    label: &'static str,
}

/// Renders `/live`, the page from which the browser asks the service
/// itself over gRPC-Web: a form (`#ask`) for the reader, the shelf and the
/// number of books, `#error` for a failed call and `#books` for the answer.
/// Its script, `/static/live.js`, does the asking.
pub fn render_live() -> Result<String, tera::Error> {
    let shelves: Vec<_> = shelves::ALL
        .into_iter()
        .map(|category| ShelfOption {
            value: category.into(),
            label: shelves::label(category),
        })
        .collect();
    let mut context = tera::Context::new();
    context.insert("shelves", &shelves);
    context.insert("user", &DEFAULT_USER);
    context.insert("max", &DEFAULT_MAX);
    context.insert("live", &true);
    context.insert("nav", &nav(None, DEFAULT_USER, DEFAULT_MAX));
    TEMPLATES.render("live.html", &context)
}

/// Renders an error page with a short `headline` and a `message` saying what
/// to do; both are escaped.
pub fn render_error(headline: &str, message: &str) -> Result<String, tera::Error> {
    let mut context = tera::Context::new();
    context.insert("headline", headline);
    context.insert("message", message);
    context.insert("nav", &nav(None, DEFAULT_USER, DEFAULT_MAX));
    TEMPLATES.render("error.html", &context)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mystery_page(titles: &[&str]) -> String {
        let books = (1..)
            .zip(titles)
            .map(|(id, title)| BookView {
                id,
                title: (*title).to_owned(),
            })
            .collect();
        render_category(&CategoryPage {
            category: BookCategory::Mystery,
            user: DEFAULT_USER,
            max: DEFAULT_MAX,
            books,
        })
        .unwrap()
    }

    #[test]
    fn the_embedded_templates_parse() {
        templates().unwrap();
    }

    #[test]
    fn the_mystery_page_reads_like_the_notes_homepage() {
        let html = mystery_page(&["A", "B", "C"]);
        assert!(
            html.contains("<title>Online Books For You</title>"),
            "{html}"
        );
        assert!(
            html.contains("<h1>Mystery books you may like</h1>"),
            "{html}"
        );
        assert!(html.contains("<li>A</li>"), "{html}");
        assert_eq!(html.matches("<li>").count(), 3, "{html}");
        assert_eq!(html.matches("<li ").count(), 0, "{html}");
    }

    #[test]
    fn titles_are_escaped() {
        let html = mystery_page(&["<script>alert('pwned')</script> & Co"]);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&amp; Co"), "{html}");
    }

    #[test]
    fn an_empty_shelf_says_so_without_list_items() {
        let html = mystery_page(&[]);
        assert!(html.contains("No books to recommend"), "{html}");
        assert_eq!(html.matches("<li ").count(), 0, "{html}");
    }

    #[test]
    fn shelf_links_keep_a_chosen_reader_and_count() {
        let links = nav(Some(BookCategory::SelfHelp), 7, 5);
        let hrefs: Vec<_> = links.iter().map(|link| link.href_html.as_str()).collect();
        assert_eq!(
            hrefs,
            [
                "/category/mystery?user=7&amp;max=5",
                "/category/science-fiction?user=7&amp;max=5",
                "/category/self-help?user=7&amp;max=5",
            ]
        );
        assert!(links[2].current && !links[0].current);
        assert_eq!(
            nav(None, DEFAULT_USER, DEFAULT_MAX)[0].href_html,
            "/category/mystery"
        );
    }

    #[test]
    fn the_live_page_has_the_form_the_script_fills() {
        let html = render_live().unwrap();
        for part in [
            r#"<form id="ask""#,
            r#"data-state="idle""#,
            r#"<input name="user_id" type="number""#,
            r#"<select name="category">"#,
            r#"<option value="0">Mystery</option>"#,
            r#"<option value="1">Science fiction</option>"#,
            r#"<option value="2">Self-help</option>"#,
            r#"<input name="max_results" type="number""#,
            r#"<p id="error" class="problem" role="alert" hidden></p>"#,
            r#"<ol id="books" class="books"></ol>"#,
            r#"<script type="module" src="/static/live.js"></script>"#,
            r#"<a href="/live" aria-current="page">"#,
        ] {
            assert!(html.contains(part), "{part} in\n{html}");
        }
        // The server judges the numbers, so the form sets no bounds.
        assert!(!html.contains("min="), "{html}");
    }

    #[test]
    fn every_page_links_to_the_live_page() {
        assert!(mystery_page(&[]).contains(r#"<a href="/live">"#));
        assert!(
            render_error("Bad request", "no")
                .unwrap()
                .contains(r#"<a href="/live">"#)
        );
    }

    #[test]
    fn error_pages_escape_their_message_and_have_no_list_items() {
        let html = render_error("Bad request", "got \"<b>\"").unwrap();
        assert!(html.contains("<h1>Bad request</h1>"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
        assert_eq!(html.matches("<li ").count(), 0, "{html}");
    }
}
