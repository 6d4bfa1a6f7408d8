//! The HTML pages: the templates (embedded in the binary, autoescaped) and
//! rendering.

use std::borrow::Cow;
use std::sync::LazyLock;

use recommendations_proto::BookCategory;
use serde::Serialize;
use tera::Tera;

use crate::selection::{DEFAULT_MAX, DEFAULT_USER};
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
        ("masthead.html", include_str!("../templates/masthead.html")),
    ])?;
    Ok(tera)
}

/// A book as a page shows it.
#[derive(Debug, Clone)]
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

/// The page shown, as the masthead's links know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current {
    Shelf(BookCategory),
    Live,
    /// A page no link leads to (an error page).
    None,
}

impl Current {
    /// Every kind of page, each with its own masthead.
    const ALL: [Self; 5] = [
        Self::Shelf(BookCategory::Mystery),
        Self::Shelf(BookCategory::ScienceFiction),
        Self::Shelf(BookCategory::SelfHelp),
        Self::Live,
        Self::None,
    ];
}

#[derive(Serialize)]
struct NavLink {
    label: &'static str,
    /// Already HTML-escaped: built only from fixed paths and [`QUERY_SLOT`].
    href_html: String,
    current: bool,
}

/// Where a page's query goes in a masthead rendered ahead of it: a
/// character that no path or label has.
const QUERY_SLOT: char = '\0';

/// The masthead of one kind of page, rendered once from `masthead.html`:
/// only the query its shelf links keep differs from page to page, so a page
/// puts that query into a copy instead of rendering the masthead again.
struct Masthead {
    /// The text around the slots for the query.
    parts: Vec<String>,
    /// The masthead without a query (the default reader and count).
    plain: String,
}

/// The masthead of each of [`Current::ALL`], in that order.
static MASTHEADS: LazyLock<Vec<Masthead>> = LazyLock::new(|| {
    Current::ALL
        .into_iter()
        .map(|current| Masthead::render(current).expect("the masthead renders (tested)"))
        .collect()
});

impl Masthead {
    fn render(current: Current) -> Result<Self, tera::Error> {
        let nav: Vec<_> = shelves::ALL
            .into_iter()
            .map(|category| NavLink {
                label: shelves::label(category),
                href_html: format!("{}{QUERY_SLOT}", shelves::path(category)),
                current: current == Current::Shelf(category),
            })
            .collect();
        let mut context = tera::Context::new();
        context.insert("nav", &nav);
        context.insert("live", &(current == Current::Live));
        let html = TEMPLATES.render("masthead.html", &context)?;
        // base.html puts it on lines of its own.
        let html = html.strip_suffix('\n').unwrap_or(&html);
        Ok(Self {
            parts: html.split(QUERY_SLOT).map(str::to_owned).collect(),
            plain: html.replace(QUERY_SLOT, ""),
        })
    }

    /// The masthead of `current`'s page.
    fn of(current: Current) -> &'static Self {
        let index = Current::ALL
            .iter()
            .position(|&kind| kind == current)
            .expect("every kind of page is in Current::ALL");
        &MASTHEADS[index]
    }

    /// The masthead with shelf links keeping `query`.
    fn with_query(&self, query: &str) -> Cow<'_, str> {
        if query.is_empty() {
            Cow::Borrowed(&self.plain)
        } else {
            Cow::Owned(self.parts.join(query))
        }
    }
}

/// Puts the masthead of `current`'s page into `context`. Its shelf links
/// keep a non-default reader and count, so a reader browsing the shelves
/// keeps their own picks.
fn insert_masthead(context: &mut tera::Context, current: Current, user: i32, max: i32) {
    let masthead = Masthead::of(current).with_query(&nav_query(user, max));
    context.insert("masthead", &*masthead);
}

/// The query of the shelf links, already HTML-escaped: built only from numbers.
fn nav_query(user: i32, max: i32) -> String {
    match (user == DEFAULT_USER, max == DEFAULT_MAX) {
        (true, true) => String::new(),
        (false, true) => format!("?user={user}"),
        (true, false) => format!("?max={max}"),
        (false, false) => format!("?user={user}&amp;max={max}"),
    }
}

/// Renders a category page. The mystery page reads "Mystery books you may
/// like", as the notes' homepage does.
pub fn render_category(page: &CategoryPage) -> Result<String, tera::Error> {
    let titles: Vec<&str> = page.books.iter().map(|book| book.title.as_str()).collect();
    let mut context = tera::Context::new();
    context.insert("shelf", shelves::label(page.category));
    context.insert("titles", &titles);
    context.insert("user", &page.user);
    context.insert("max", &page.max);
    insert_masthead(
        &mut context,
        Current::Shelf(page.category),
        page.user,
        page.max,
    );
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
    insert_masthead(&mut context, Current::Live, DEFAULT_USER, DEFAULT_MAX);
    TEMPLATES.render("live.html", &context)
}

/// Renders an error page with a short `headline` and a `message` saying what
/// to do; both are escaped.
pub fn render_error(headline: &str, message: &str) -> Result<String, tera::Error> {
    let mut context = tera::Context::new();
    context.insert("headline", headline);
    context.insert("message", message);
    insert_masthead(&mut context, Current::None, DEFAULT_USER, DEFAULT_MAX);
    TEMPLATES.render("error.html", &context)
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::selection::MAX_RESULTS;

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

    /// The masthead's shelf links as the list of `shelves::ALL` would
    /// write them, `shown` marked as the page shown.
    fn expected_shelf_links(shown: Option<BookCategory>, query: &str) -> String {
        let mut links = String::from(r#"<nav class="shelves" aria-label="Categories">"#);
        for category in shelves::ALL {
            let current = if Some(category) == shown {
                r#" aria-current="page""#
            } else {
                ""
            };
            write!(
                links,
                "\n            <a href=\"{}{query}\"{current}>{}</a>",
                shelves::path(category),
                tera::escape_html(shelves::label(category))
            )
            .unwrap();
        }
        links
    }

    #[test]
    fn the_masthead_links_every_shelf_in_order_marking_the_page_shown() {
        for shown in shelves::ALL {
            let html = render_category(&CategoryPage {
                category: shown,
                user: DEFAULT_USER,
                max: DEFAULT_MAX,
                books: Vec::new(),
            })
            .unwrap();
            let links = expected_shelf_links(Some(shown), "");
            assert!(html.contains(&format!("{links}\n        </nav>")), "{html}");
        }
        let links = format!("{}\n        </nav>", expected_shelf_links(None, ""));
        assert!(render_live().unwrap().contains(&links));
        assert!(render_error("Bad request", "no").unwrap().contains(&links));
    }

    #[test]
    fn every_kind_of_page_has_its_masthead_with_a_slot_per_shelf_link() {
        for current in Current::ALL {
            let masthead = Masthead::render(current).unwrap();
            assert_eq!(masthead.parts.len(), shelves::ALL.len() + 1, "{current:?}");
            assert!(!masthead.plain.contains(QUERY_SLOT), "{current:?}");
            assert_eq!(Masthead::of(current).plain, masthead.plain, "{current:?}");
            assert_eq!(masthead.with_query(""), masthead.parts.concat());
        }
    }

    #[test]
    fn the_form_bounds_the_count_as_the_query_is_checked() {
        // category.html writes the bounds out, so that pages need not look them up.
        let html = mystery_page(&[]);
        let bounds = format!(
            r#"<input name="max" type="number" min="{}" max="{}""#,
            MAX_RESULTS.start(),
            MAX_RESULTS.end()
        );
        assert!(html.contains(&bounds), "{bounds} in\n{html}");
    }

    #[test]
    fn shelf_links_keep_a_chosen_reader_and_count() {
        let html = render_category(&CategoryPage {
            category: BookCategory::SelfHelp,
            user: 7,
            max: 5,
            books: Vec::new(),
        })
        .unwrap();
        let links = expected_shelf_links(Some(BookCategory::SelfHelp), "?user=7&amp;max=5");
        assert!(html.contains(&links), "{html}");
        assert_eq!(nav_query(DEFAULT_USER, DEFAULT_MAX), "");
        assert_eq!(nav_query(7, DEFAULT_MAX), "?user=7");
        assert_eq!(nav_query(DEFAULT_USER, 5), "?max=5");
        assert_eq!(nav_query(7, 5), "?user=7&amp;max=5");
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
