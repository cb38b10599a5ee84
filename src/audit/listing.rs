//! Reading the fleet from the server: every project of the organization (SonarQube Cloud) or
//! of the instance (Server), with a read credential that is only ever read from.
//!
//! The endpoint is `api/projects/search` (docs/sonar-facts.md §9): the documented listing,
//! which needs an administrator (Server: Administer System; Cloud: Administer on the
//! organization). It pages with `p` and `ps`, `ps` at most 500, and reads its database: no
//! cap on how deep it pages. Sonar's Elasticsearch listings (`api/components/search_projects`)
//! stop at the first 10,000 results (`p × ps`), and SonarQube Cloud's code is not public, so a
//! server that refuses a page past such a window ("Can return only the first N results") is
//! believed: the window is learned from the refusal, and every query that matches more than
//! it is split by key prefix. `q=P`
//! matches keys (and names) that contain P, ignoring case, so the keys that *start* with P
//! are all among its results; each prefix whose results fit in the window is read whole and
//! kept to the keys that start with it, each larger one is split by one more character of
//! the key alphabet (letters, digits, `-`, `_`, `.`, `:`), and a key equal to a split prefix
//! is asked for by name (`projects=`). Every project is reached, whatever the fleet's size;
//! the walk stops once it holds as many keys as the unfiltered query's `paging.total`.
//!
//! Must not: send the read credential anywhere but the listing, probe it as a scan token,
//! export it, or print it (it is masked before the first request).

use crate::secret::Token;
use crate::sonar::client::Client;
use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinSet;
use url::Url;

/// The endpoint read.
pub const ENDPOINT: &str = "api/projects/search";
/// Sonar's page size cap (`WebService.addPagingParams`, `ps` at most 500).
pub const PAGE_SIZE: usize = 500;
/// Characters a project key may hold (Sonar's `ComponentKeys`), lower case: `q` ignores case.
const KEY_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz0123456789-_.:";
/// Sonar's longest project key: no prefix is split past it.
const MAX_KEY_LENGTH: usize = 400;
/// A page of 500 projects with their dates and revisions, with room to spare.
const PAGE_CAP: usize = 4 << 20;

/// What was listed, and how: the evidence an auditor reads.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The read credential's fingerprint and where it came from (never the value).
    pub fingerprint: String,
    pub source: String,
    pub endpoint: &'static str,
    pub organization: Option<String>,
    pub started_at: SystemTime,
    pub elapsed: Duration,
    /// Requests that answered a page (the splits' first pages included).
    pub pages: u64,
    /// Queries run: 1 when the fleet fits in the window, more when it was split.
    pub queries: u64,
    /// The result window the server said it keeps to (`None`: it paged to the end).
    pub window: Option<usize>,
    /// What the server said the whole listing holds (`paging.total` of the unfiltered query).
    pub total: u64,
    /// Every key, sorted, without repeats.
    pub keys: Vec<String>,
    /// How many keys were found (kept when `keys` is handed on).
    pub found: u64,
}

/// Why the listing failed: a cause and the next step, both free of the credential.
#[derive(Debug)]
pub struct ListingError {
    pub cause: String,
    pub next_step: String,
    /// The server could not be asked (exit 3) rather than refusing (exit 2).
    pub unreachable: bool,
}

struct Page {
    total: u64,
    keys: Vec<String>,
}

enum PageError {
    /// The server's result window, learned from its refusal.
    Window(usize),
    Failed(ListingError),
}

fn page_url(
    web_url: &str,
    organization: Option<&str>,
    query: &Query,
    page: usize,
    size: usize,
) -> Result<Url, ListingError> {
    let mut url =
        Url::parse(&format!("{}/{ENDPOINT}", web_url.trim_end_matches('/'))).map_err(|e| {
            ListingError {
                cause: format!("the host URL cannot hold the listing's path: {e}"),
                next_step: "check --host-url".into(),
                unreachable: false,
            }
        })?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(o) = organization {
            q.append_pair("organization", o);
        }
        match query {
            Query::All => {}
            Query::Contains(p) => {
                q.append_pair("q", p);
            }
            Query::Exact(k) => {
                q.append_pair("projects", k);
            }
        }
        q.append_pair("ps", &size.to_string());
        q.append_pair("p", &page.to_string());
    }
    Ok(url)
}

#[derive(Clone)]
enum Query {
    All,
    Contains(String),
    Exact(String),
}

/// "Can return only the first 10,000 results. 10500th result asked." → 10000.
fn window_in(message: &str) -> Option<usize> {
    let rest = message.strip_prefix("Can return only the first ")?;
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    number.parse().ok().filter(|&n: &usize| n > 0)
}

async fn fetch(
    client: &Client,
    web_url: &str,
    organization: Option<&str>,
    token: &Token,
    query: &Query,
    page: usize,
    size: usize,
) -> Result<Page, PageError> {
    let url = page_url(web_url, organization, query, page, size).map_err(PageError::Failed)?;
    let e = client.get_capped(&url, Some(token), false, PAGE_CAP).await;
    let answer = match e.result {
        Ok(a) => a,
        Err(t) => {
            return Err(PageError::Failed(ListingError {
                cause: format!("{ENDPOINT} could not be asked: {}", t.describe()),
                next_step: "check the host URL and the network, then run the audit again".into(),
                unreachable: true,
            }))
        }
    };
    let said = answer
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    let fail = |cause: String, next: &str, unreachable: bool| {
        Err(PageError::Failed(ListingError {
            cause,
            next_step: next.into(),
            unreachable,
        }))
    };
    match answer.status {
        200 => {}
        400 if answer.message.as_deref().and_then(window_in).is_some() => {
            return Err(PageError::Window(
                answer.message.as_deref().and_then(window_in).unwrap_or(1),
            ));
        }
        401 => {
            return fail(
                format!("{ENDPOINT} answered 401: the server rejects the read credential (invalid, revoked or expired)"),
                "store a valid token of an administrator in the variable --read-token-env names",
                false,
            )
        }
        403 => {
            return fail(
                format!("{ENDPOINT} answered 403{said}: the read credential may not list projects"),
                "use a token of a user with Administer System (SonarQube Server) or Administer on the organization (SonarQube Cloud); a scoped organization token or an analysis token cannot list projects",
                false,
            )
        }
        404 => {
            return fail(
                format!("{ENDPOINT} answered 404{said}"),
                "check the organization (--organization) and the host URL",
                false,
            )
        }
        s if s == 429 || s >= 500 => {
            return fail(
                format!("{ENDPOINT} answered {s}{said} after retries"),
                "run the audit again later, or with a lower --max-rate",
                true,
            )
        }
        s => {
            return fail(
                format!("{ENDPOINT} answered {s}{said}"),
                "check the host URL: this does not look like Sonar's listing",
                false,
            )
        }
    }
    let json = answer.json.unwrap_or_default();
    let total = json.pointer("/paging/total").and_then(|t| t.as_u64());
    let components = json.get("components").and_then(|c| c.as_array());
    let (Some(total), Some(components)) = (total, components) else {
        return fail(
            format!("{ENDPOINT} answered 200 without paging.total and components"),
            "check the host URL: this does not look like Sonar's listing",
            false,
        );
    };
    let keys = components
        .iter()
        .filter_map(|c| c.get("key").and_then(|k| k.as_str()))
        .map(str::to_owned)
        .collect();
    Ok(Page { total, keys })
}

/// Lists every project. `concurrency` pages are asked at once.
pub async fn list_all(
    client: &Client,
    web_url: &str,
    organization: Option<&str>,
    token: &Token,
    source: String,
    concurrency: usize,
) -> Result<Listing, ListingError> {
    let started_at = SystemTime::now();
    let start = Instant::now();
    let mut listing = Listing {
        fingerprint: token.fingerprint(),
        source,
        endpoint: ENDPOINT,
        organization: organization.map(str::to_owned),
        started_at,
        elapsed: Duration::ZERO,
        pages: 0,
        queries: 0,
        window: None,
        total: 0,
        keys: Vec::new(),
        found: 0,
    };
    let mut keys: BTreeSet<String> = BTreeSet::new();
    // Prefixes still to read; "" is the whole fleet.
    let mut todo: Vec<String> = vec![String::new()];
    while let Some(prefix) = todo.pop() {
        let query = if prefix.is_empty() {
            Query::All
        } else {
            Query::Contains(prefix.clone())
        };
        listing.queries += 1;
        let size = PAGE_SIZE.min(listing.window.unwrap_or(PAGE_SIZE));
        let first = match fetch(client, web_url, organization, token, &query, 1, size).await {
            Ok(p) => p,
            Err(PageError::Failed(e)) => return Err(e),
            Err(PageError::Window(w)) if w < size => {
                // A window smaller than a page: smaller pages, and this prefix again.
                listing.window = Some(w);
                listing.queries -= 1;
                todo.push(prefix);
                continue;
            }
            Err(PageError::Window(w)) => {
                // Page 1 within the window, refused all the same: no Sonar answers so.
                return Err(ListingError {
                    cause: format!("{ENDPOINT} refused its first page (a window of {w} results)"),
                    next_step: "report this: the server's listing does not page as Sonar's does"
                        .into(),
                    unreachable: false,
                });
            }
        };
        listing.pages += 1;
        if prefix.is_empty() {
            listing.total = first.total;
        }
        let total = first.total as usize;
        let mut found = first.keys;
        let mut split = listing.window.is_some_and(|w| total > w);
        if !split {
            let last_page = total.div_ceil(size);
            let mut pages = 2..=last_page;
            let mut running = JoinSet::new();
            loop {
                while running.len() < concurrency.max(1) {
                    let Some(p) = pages.next() else { break };
                    let (client, web_url, organization, token, query) = (
                        client.clone(),
                        web_url.to_owned(),
                        organization.map(str::to_owned),
                        token.clone(),
                        query.clone(),
                    );
                    running.spawn(async move {
                        fetch(
                            &client,
                            &web_url,
                            organization.as_deref(),
                            &token,
                            &query,
                            p,
                            size,
                        )
                        .await
                    });
                }
                let Some(joined) = running.join_next().await else {
                    break;
                };
                match joined {
                    Ok(Ok(page)) => {
                        listing.pages += 1;
                        found.extend(page.keys);
                    }
                    Ok(Err(PageError::Window(w))) => {
                        listing.window = Some(listing.window.map_or(w, |old| old.min(w)));
                        split = true;
                        running.abort_all();
                        break;
                    }
                    Ok(Err(PageError::Failed(e))) => return Err(e),
                    Err(e) => {
                        return Err(ListingError {
                            cause: format!("a page of the listing was lost: {e}"),
                            next_step: "run the audit again".into(),
                            unreachable: true,
                        })
                    }
                }
            }
        }
        if split {
            if prefix.chars().count() >= MAX_KEY_LENGTH {
                return Err(ListingError {
                    cause: format!(
                        "more than {} projects match {prefix:?}, and no longer key prefix can split them",
                        listing.window.unwrap_or_default()
                    ),
                    next_step: "report this: the listing cannot be partitioned further".into(),
                    unreachable: false,
                });
            }
            if !prefix.is_empty() {
                // A key equal to the prefix itself is in no longer prefix: ask for it by name.
                listing.queries += 1;
                match fetch(
                    client,
                    web_url,
                    organization,
                    token,
                    &Query::Exact(prefix.clone()),
                    1,
                    size,
                )
                .await
                {
                    Ok(p) => {
                        listing.pages += 1;
                        keys.extend(p.keys.into_iter().filter(|k| *k == prefix));
                    }
                    Err(PageError::Failed(e)) => return Err(e),
                    Err(PageError::Window(_)) => {}
                }
            }
            for c in KEY_ALPHABET.chars().rev() {
                todo.push(format!("{prefix}{c}"));
            }
            continue;
        }
        keys.extend(
            found
                .into_iter()
                .filter(|k| prefix.is_empty() || k.to_lowercase().starts_with(&prefix)),
        );
        // Every project the server counted is found: the prefixes left can add none. (The
        // alphabet's order walks the keys' own prefixes before the substrings that merely
        // occur inside them, which `q` also matches.)
        if !prefix.is_empty() && keys.len() as u64 >= listing.total {
            break;
        }
    }
    listing.keys = keys.into_iter().collect();
    listing.found = listing.keys.len() as u64;
    listing.elapsed = start.elapsed();
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_read_from_sonars_refusal() {
        assert_eq!(
            window_in("Can return only the first 10,000 results. 10,500th result asked."),
            Some(10_000)
        );
        assert_eq!(
            window_in("Can return only the first 1000 results. 1500th result asked."),
            Some(1000)
        );
        assert_eq!(window_in("'ps' value (501) must be less than 500"), None);
        assert_eq!(window_in("Can return only the first 0 results."), None);
    }

    #[test]
    fn page_urls_carry_the_organization_the_query_and_the_page() {
        let u = page_url(
            "https://sonarcloud.io/",
            Some("acme"),
            &Query::Contains("a b".into()),
            3,
            500,
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "https://sonarcloud.io/api/projects/search?organization=acme&q=a+b&ps=500&p=3"
        );
        let u = page_url("http://h/sq", None, &Query::Exact("k:1".into()), 1, 500).unwrap();
        assert_eq!(
            u.as_str(),
            "http://h/sq/api/projects/search?projects=k%3A1&ps=500&p=1"
        );
    }
}
