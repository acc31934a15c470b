//! `ghlsync bench sandbox`: how fast the emulators answer the calls a sync makes,
//! measured alone, so that the sync benchmarks measure the engine and not the
//! sandbox. GHL: creates into an empty location and into one holding `--records`
//! contacts (the duplicate check is an index lookup, so the two should match),
//! duplicate searches, reads, and a `searchAfter` walk over every contact. Lofty:
//! creates, and lead searches by email and by phone with as many leads.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Contacts in the GHL location (and leads in Lofty) while measuring.
    #[arg(long, default_value_t = 100_000)]
    pub records: usize,
    /// Requests per measured operation.
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    records: usize,
    requests: usize,
    concurrency: usize,
    ghl_creates_per_s_empty: f64,
    ghl_creates_per_s: f64,
    /// `ghl_creates_per_s` / `ghl_creates_per_s_empty`: 1.0 when the location's
    /// size does not slow a create.
    ghl_create_ratio_full_to_empty: f64,
    ghl_duplicate_searches_per_s: f64,
    ghl_gets_per_s: f64,
    ghl_search_walk_contacts: usize,
    ghl_search_walk_pages: usize,
    ghl_search_walk_s: f64,
    ghl_search_pages_per_s: f64,
    lofty_creates_per_s: f64,
    lofty_email_searches_per_s: f64,
    lofty_phone_searches_per_s: f64,
}

/// Runs `op(i)` for i in 0..n with `concurrency` in flight: operations per second.
async fn rate<F, Fut>(n: usize, concurrency: usize, op: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                op(i).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Sends `req` and fails naming `what` unless the answer is a success.
async fn expect_ok(what: &str, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let resp = req
        .send()
        .await
        .with_context(|| format!("{what}: no answer"))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "{what}: {status} {body}");
    Ok(body)
}

/// The GHL side: a client with the location's token.
#[derive(Clone)]
struct Ghl {
    http: reqwest::Client,
    base: String,
    location: String,
    token: String,
}

impl Ghl {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Version", "2021-07-28")
    }

    async fn create(&self, tag: &str, i: usize) -> anyhow::Result<()> {
        let body = json!({
            "locationId": self.location,
            "firstName": format!("Bench{i}"),
            "email": format!("{tag}{i}@bench.example.com"),
            "phone": format!("+1{}", 2_000_000_000 + i as u64 + if tag == "full" { 500_000_000 } else { 0 }),
        });
        expect_ok(
            "POST /contacts/",
            self.req(reqwest::Method::POST, "/contacts/").json(&body),
        )
        .await
        .map(drop)
    }
}

#[derive(Clone)]
struct Lofty {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Lofty {
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("token {}", self.key))
    }
}

pub async fn run(args: &SandboxArgs) -> anyhow::Result<Figures> {
    let mut config = sandbox::SandboxConfig {
        contacts_per_location: 0,
        locations: 1,
        ..Default::default()
    };
    config.rate.max_per_window = u32::MAX;
    config.rate.daily = u32::MAX;
    let sb = sandbox::Sandbox::start(config)
        .await
        .context("the sandbox starts")?;
    let info = sb.info().clone();
    let http = wire::http::http_client_builder(Duration::from_secs(60))
        .pool_max_idle_per_host(args.concurrency.max(1))
        .build()?;
    let loc = &info.ghl.locations[0];
    let ghl = Ghl {
        http: http.clone(),
        base: info.ghl.base_url.clone(),
        location: loc.id.clone(),
        token: loc.token.clone(),
    };
    let (n, c) = (args.requests, args.concurrency);
    let say = |what: &str| {
        if !args.json {
            crate::hint!("bench sandbox: {what}");
        }
    };

    say(&format!("{n} GHL creates into an empty location"));
    let g = ghl.clone();
    let empty = rate(n, c, move |i| {
        let g = g.clone();
        async move { g.create("empty", i).await }
    })
    .await?;

    let seed = args.records.saturating_sub(n);
    say(&format!(
        "seeding {seed} more contacts, then {n} creates with {} held",
        args.records
    ));
    expect_ok(
        "POST /_sandbox/seed",
        http.post(format!("{}/_sandbox/seed", ghl.base))
            .json(&json!({"contacts": seed, "location_id": ghl.location})),
    )
    .await?;
    let g = ghl.clone();
    let full = rate(n, c, move |i| {
        let g = g.clone();
        async move { g.create("full", i).await }
    })
    .await?;

    say("duplicate searches and reads");
    let g = ghl.clone();
    let duplicates = rate(n, c, move |i| {
        let g = g.clone();
        async move {
            let path = format!(
                "/contacts/search/duplicate?locationId={}&email=full{i}%40bench.example.com",
                g.location
            );
            let body = expect_ok(
                "GET /contacts/search/duplicate",
                g.req(reqwest::Method::GET, &path),
            )
            .await?;
            anyhow::ensure!(
                body["contact"]["id"].is_string(),
                "the duplicate search did not find full{i}: {body}"
            );
            Ok(())
        }
    })
    .await?;
    // Ids to read: the first page of the search walk below gives them.
    let first = expect_ok(
        "POST /contacts/search",
        ghl.req(reqwest::Method::POST, "/contacts/search")
            .json(&json!({"locationId": ghl.location, "pageLimit": 500})),
    )
    .await?;
    let ids: Arc<Vec<String>> = Arc::new(
        first["contacts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_str().map(str::to_owned))
            .collect(),
    );
    anyhow::ensure!(!ids.is_empty(), "the search found no contacts: {first}");
    let g = ghl.clone();
    let gets = rate(n, c, move |i| {
        let (g, ids) = (g.clone(), ids.clone());
        async move {
            let path = format!("/contacts/{}", ids[i % ids.len()]);
            expect_ok("GET /contacts/{id}", g.req(reqwest::Method::GET, &path))
                .await
                .map(drop)
        }
    })
    .await?;

    say("a searchAfter walk over every contact, 500 a page");
    let started = Instant::now();
    let (mut walked, mut pages, mut after) = (0usize, 0usize, None::<Value>);
    loop {
        let mut body = json!({"locationId": ghl.location, "pageLimit": 500});
        if let Some(a) = &after {
            body["searchAfter"] = a.clone();
        }
        let page = expect_ok(
            "POST /contacts/search",
            ghl.req(reqwest::Method::POST, "/contacts/search")
                .json(&body),
        )
        .await?;
        let contacts = page["contacts"].as_array().cloned().unwrap_or_default();
        pages += 1;
        if contacts.is_empty() {
            break;
        }
        walked += contacts.len();
        after = contacts.last().map(|c| c["searchAfter"].clone());
    }
    let walk_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        walked == args.records + n,
        "the walk saw {walked} contacts of {}",
        args.records + n
    );

    say(&format!(
        "Lofty: {n} creates, then searches by email and phone among {} leads",
        args.records
    ));
    let lofty = Lofty {
        http: http.clone(),
        base: info.lofty.base_url.clone(),
        key: info.lofty.api_key.clone(),
    };
    expect_ok(
        "POST /_sandbox/config",
        http.post(format!("{}/_sandbox/config", lofty.base))
            .json(&json!({"rate_per_minute": u32::MAX, "oauth_rate_per_minute": u32::MAX, "consistency_delay_ms": 0})),
    )
    .await?;
    let l = lofty.clone();
    let lofty_creates = rate(n, c, move |i| {
        let l = l.clone();
        async move {
            let body = json!({
                "firstName": format!("Bench{i}"),
                "emails": [format!("lead{i}@bench.example.com")],
                "phones": [format!("(303) {:03}-{:04}", 200 + i / 10_000, i % 10_000)],
            });
            expect_ok(
                "POST /v1.0/leads",
                l.http
                    .post(format!("{}/v1.0/leads", l.base))
                    .header("Authorization", format!("token {}", l.key))
                    .json(&body),
            )
            .await
            .map(drop)
        }
    })
    .await?;
    expect_ok(
        "POST /_sandbox/seed",
        http.post(format!("{}/_sandbox/seed", lofty.base))
            .json(&json!({"leads": seed})),
    )
    .await?;
    let search = |by: &'static str| {
        let l = lofty.clone();
        move |i: usize| {
            let l = l.clone();
            async move {
                let query = match by {
                    "email" => format!("email=lead{i}%40bench.example.com"),
                    _ => format!("phone=303{:03}{:04}", 200 + i / 10_000, i % 10_000),
                };
                let body =
                    expect_ok("GET /v1.0/leads", l.get(&format!("/v1.0/leads?{query}"))).await?;
                anyhow::ensure!(
                    body["leads"].as_array().is_some_and(|a| a.len() == 1),
                    "the {by} search for lead {i} did not find it: {body}"
                );
                Ok(())
            }
        }
    };
    let by_email = rate(n, c, search("email")).await?;
    let by_phone = rate(n, c, search("phone")).await?;
    sb.shutdown().await;
    Ok(Figures {
        records: args.records,
        requests: n,
        concurrency: c,
        ghl_creates_per_s_empty: empty,
        ghl_creates_per_s: full,
        ghl_create_ratio_full_to_empty: full / empty,
        ghl_duplicate_searches_per_s: duplicates,
        ghl_gets_per_s: gets,
        ghl_search_walk_contacts: walked,
        ghl_search_walk_pages: pages,
        ghl_search_walk_s: walk_s,
        ghl_search_pages_per_s: pages as f64 / walk_s,
        lofty_creates_per_s: lofty_creates,
        lofty_email_searches_per_s: by_email,
        lofty_phone_searches_per_s: by_phone,
    })
}

/// Prints the figures as a table, or one JSON object.
pub fn print(args: &SandboxArgs, f: &Figures) {
    if args.json {
        println!("{}", json!(f));
        return;
    }
    println!(
        "sandbox benchmark: {} records held, {} requests per line, {} in flight (rate limits off; the client runs in the same process)",
        f.records, f.requests, f.concurrency
    );
    let line = |what: &str, v: f64, unit: &str| println!("  {what:<44} {v:>10.0} {unit}");
    line(
        "GHL create, empty location",
        f.ghl_creates_per_s_empty,
        "/s",
    );
    line(
        &format!("GHL create, {} contacts held", f.records),
        f.ghl_creates_per_s,
        "/s",
    );
    println!(
        "  {:<44} {:>10.2}",
        "  ratio full / empty", f.ghl_create_ratio_full_to_empty
    );
    line(
        "GHL duplicate search (email)",
        f.ghl_duplicate_searches_per_s,
        "/s",
    );
    line("GHL get contact", f.ghl_gets_per_s, "/s");
    println!(
        "  {:<44} {:>10.0} pages/s ({} contacts in {} pages, {:.1} s)",
        "GHL searchAfter walk, 500 a page",
        f.ghl_search_pages_per_s,
        f.ghl_search_walk_contacts,
        f.ghl_search_walk_pages,
        f.ghl_search_walk_s
    );
    line("Lofty create lead", f.lofty_creates_per_s, "/s");
    line(
        "Lofty lead search by email",
        f.lofty_email_searches_per_s,
        "/s",
    );
    line(
        "Lofty lead search by phone",
        f.lofty_phone_searches_per_s,
        "/s",
    );
}
